"""Incidents: a burst of similar cases in one place raises one, later reports join it, staff
resolve it and write what callers are told about it.

Cases are placed around one street corner; 0.0001 degree of latitude is about 11 metres.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.cases.duplicates import (
    active_incidents,
    detect_incident,
    incident_announcements,
    resolve_incident,
    set_announcement,
)
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, Incident, IncidentStatus
from contactcenter.db import get_db, utcnow
from contactcenter.errors import Conflict, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.settings import DetectionSettings
from tests import factories

API = "/api/v1"
LAT, LON = 45.4215, -75.6972
METRE = 1 / 111_195  # degrees of latitude per metre
DEFAULTS = DetectionSettings()
THREE = DetectionSettings(incident_threshold=3)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def case_at(
    session: Session,
    jurisdiction: Jurisdiction,
    metres_north: float = 0.0,
    *,
    code: str = "pothole",
    **fields: Any,
) -> Case:
    return factories.make_case(
        session,
        jurisdiction,
        service_type=factories.service_type(session, jurisdiction, code),
        latitude=LAT + metres_north * METRE,
        longitude=LON,
        **fields,
    )


def reported(
    session: Session,
    jurisdiction: Jurisdiction,
    settings: DetectionSettings,
    metres: list[float],
    **fields: Any,
) -> list[tuple[Case, Incident | None]]:
    """A case at each distance, each run through incident detection as it arrives."""
    results = []
    for north in metres:
        case = case_at(session, jurisdiction, north, **fields)
        results.append((case, detect_incident(session, case, settings)))
    return results


def incidents(session: Session) -> list[Incident]:
    return list(session.scalars(sa.select(Incident).order_by(Incident.id)))


def events(session: Session, case: Case, kind: str) -> list[CaseEvent]:
    return list(
        session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)
        )
    )


def fresh(session: Session) -> Session:
    session.commit()
    session.expire_all()
    return session


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


def raised(session: Session, jurisdiction: Jurisdiction, north: float = 0.0) -> Incident:
    """An active incident of three potholes around ``north`` metres."""
    results = reported(session, jurisdiction, THREE, [north, north + 10, north + 20])
    incident = results[-1][1]
    assert incident is not None
    return incident


# ---------------------------------------------------------------------------------------------
# Detection


def test_incident_is_raised_exactly_at_the_threshold(session, jurisdiction):
    results = reported(session, jurisdiction, THREE, [0, 30, 60])

    assert [incident for _, incident in results[:2]] == [None, None]
    incident = results[2][1]
    assert incident is not None
    session.commit()
    assert incidents(session) == [incident]
    assert incident.status == IncidentStatus.ACTIVE
    assert incident.case_count == 3
    assert incident.radius_m == THREE.incident_radius_m
    assert incident.service_type.code == "pothole"
    assert incident.latitude == pytest.approx(LAT + 30 * METRE)
    assert incident.longitude == pytest.approx(LON)
    for case, _ in results:
        assert case.incident_id == incident.id
        [event] = events(session, case, "incident_raised")
        assert event.data["incident_id"] == incident.id
        assert event.data["case_count"] == 3


def test_one_case_short_of_the_default_threshold_raises_nothing(session, jurisdiction):
    results = reported(session, jurisdiction, DEFAULTS, [0, 10, 20, 30])

    assert [incident for _, incident in results] == [None] * 4
    assert incidents(session) == []
    assert all(case.incident_id is None for case, _ in results)


def test_cases_far_apart_or_of_other_types_or_old_or_closed_do_not_count(session, jurisdiction):
    case_at(session, jurisdiction, 400)
    case_at(session, jurisdiction, 0, code="missed-pickup")
    case_at(session, jurisdiction, 0, created_at=utcnow() - dt.timedelta(minutes=121))
    case_at(session, jurisdiction, 0, status=CaseStatus.CLOSED)
    case_at(session, jurisdiction, 10)
    newest = case_at(session, jurisdiction, 0)

    assert detect_incident(session, newest, THREE) is None
    assert incidents(session) == []


def test_case_without_coordinates_or_service_type_is_never_in_an_incident(session, jurisdiction):
    raised(session, jurisdiction)
    nowhere = factories.make_case(
        session, jurisdiction, service_type=factories.service_type(session, jurisdiction)
    )
    untyped = factories.make_case(session, jurisdiction, latitude=LAT, longitude=LON)

    assert detect_incident(session, nowhere, THREE) is None
    assert detect_incident(session, untyped, THREE) is None


def test_later_nearby_case_joins_the_active_incident(session, jurisdiction):
    incident = raised(session, jurisdiction)
    session.commit()

    late, joined = reported(session, jurisdiction, THREE, [200])[0]
    session.commit()

    assert joined is not None and joined.id == incident.id
    assert late.incident_id == incident.id
    assert fresh(session).get(Incident, incident.id).case_count == 4
    assert events(session, late, "incident_linked")[0].data == {"incident_id": incident.id}
    assert len(incidents(session)) == 1


def test_case_outside_the_incident_or_of_another_type_does_not_join(session, jurisdiction):
    incident = raised(session, jurisdiction)

    far, _ = reported(session, jurisdiction, THREE, [600])[0]
    other, _ = reported(session, jurisdiction, THREE, [0], code="missed-pickup")[0]

    assert far.incident_id is None and other.incident_id is None
    assert incident.case_count == 3


def test_a_burst_raises_one_incident_even_when_its_cases_are_checked_again(session, jurisdiction):
    cases = [case_at(session, jurisdiction, north) for north in (0, 10, 20, 30)]

    first = detect_incident(session, cases[3], THREE)
    assert first is not None and first.case_count == 4
    again = [detect_incident(session, case, THREE) for case in cases]

    assert [incident.id if incident else None for incident in again] == [first.id] * 4
    assert incidents(session) == [first]
    assert first.case_count == 4


def test_resolved_incident_no_longer_collects_and_its_cases_start_no_new_one(session, jurisdiction):
    agent, _ = factories.make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    incident = raised(session, jurisdiction)
    resolve_incident(session, [jurisdiction.id], incident.id, agent)
    session.commit()

    late, joined = reported(session, jurisdiction, THREE, [15])[0]

    assert joined is None and late.incident_id is None
    assert incidents(session) == [incident]
    assert incident.status == IncidentStatus.RESOLVED and incident.resolved_at is not None
    with pytest.raises(Conflict):
        resolve_incident(session, [jurisdiction.id], incident.id, agent)


def test_incident_of_another_jurisdiction_is_not_found(session, jurisdiction):
    other = factories.make_jurisdiction(session, slug="shelbyville", sms_number="+16135550312")
    agent, _ = factories.make_agent(session, [other], role=Role.SUPERVISOR)
    incident = raised(session, jurisdiction)

    with pytest.raises(NotFound):
        resolve_incident(session, [other.id], incident.id, agent)
    with pytest.raises(NotFound):
        set_announcement(session, [other.id], incident.id, "Crews on site.", agent)
    assert active_incidents(session, [other.id]) == []


def test_announcements_of_active_incidents_are_listed_newest_first(session, jurisdiction):
    agent, _ = factories.make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    oldest = raised(session, jurisdiction, 0)
    silent = raised(session, jurisdiction, 1000)
    over = raised(session, jurisdiction, 2000)
    newest = raised(session, jurisdiction, 3000)
    for age, incident in enumerate((newest, over, silent, oldest)):
        incident.created_at = utcnow() - dt.timedelta(minutes=age)
    set_announcement(session, [jurisdiction.id], oldest.id, "Water main break on Elm St.", agent)
    set_announcement(session, [jurisdiction.id], over.id, "Over already.", agent)
    set_announcement(
        session, [jurisdiction.id], newest.id, "  Crews are on site\n on Bank St. ", agent
    )
    resolve_incident(session, [jurisdiction.id], over.id, agent)
    session.commit()

    assert incident_announcements(session, jurisdiction.id) == [
        "Crews are on site on Bank St.",
        "Water main break on Elm St.",
    ]
    assert silent.announcement == ""


# ---------------------------------------------------------------------------------------------
# The API


@pytest.fixture
def staff(session: Session, jurisdiction: Jurisdiction) -> dict[str, str]:
    other = factories.make_jurisdiction(session, slug="shelbyville", sms_number="+16135550312")
    tokens = {
        "agent": factories.make_agent(session, [jurisdiction])[1],
        "supervisor": factories.make_agent(session, [jurisdiction], role=Role.SUPERVISOR)[1],
        "outsider": factories.make_agent(session, [other], role=Role.SUPERVISOR)[1],
    }
    session.commit()
    return tokens


def test_agents_see_the_active_incidents_of_their_jurisdictions(
    client, session, jurisdiction, staff
):
    incident = raised(session, jurisdiction)
    session.commit()

    response = client.get(f"{API}/incidents", headers=auth(staff["agent"]))

    assert response.status_code == 200
    [shown] = response.get_json()["data"]
    assert shown["id"] == incident.id
    assert shown["status"] == "active"
    assert shown["case_count"] == 3
    assert shown["service_type"]["code"] == "pothole"
    outsider = client.get(f"{API}/incidents", headers=auth(staff["outsider"]))
    assert outsider.get_json()["data"] == []


def test_supervisor_resolves_an_incident_and_it_leaves_the_list(
    client, session, jurisdiction, staff
):
    incident = raised(session, jurisdiction)
    session.commit()

    response = client.post(
        f"{API}/incidents/{incident.id}/resolve", headers=auth(staff["supervisor"])
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["data"]["status"] == "resolved"
    assert client.get(f"{API}/incidents", headers=auth(staff["agent"])).get_json()["data"] == []
    again = client.post(f"{API}/incidents/{incident.id}/resolve", headers=auth(staff["supervisor"]))
    assert_error(again, 409, "incident_resolved")
    fresh(session)
    member = session.scalars(sa.select(Case).where(Case.incident_id == incident.id)).first()
    assert member is not None
    assert events(session, member, "incident_resolved")[0].actor_agent_id is not None


def test_incident_routes_need_a_supervisor_and_hide_other_jurisdictions_incidents(
    client, session, jurisdiction, staff
):
    incident = raised(session, jurisdiction)
    session.commit()
    resolve = f"{API}/incidents/{incident.id}/resolve"
    announce = f"{API}/incidents/{incident.id}/announcement"

    assert_error(client.post(resolve, headers=auth(staff["agent"])), 403, "role_required")
    assert_error(
        client.put(announce, json={"text": "hi"}, headers=auth(staff["agent"])),
        403,
        "role_required",
    )
    for response in (
        client.post(resolve, headers=auth(staff["outsider"])),
        client.put(announce, json={"text": "hi"}, headers=auth(staff["outsider"])),
        client.post(f"{API}/incidents/99999999999/resolve", headers=auth(staff["supervisor"])),
    ):
        assert_error(response, 404, "incident_not_found")
    fresh(session)
    assert incident.status == IncidentStatus.ACTIVE and incident.announcement == ""


def test_supervisor_sets_the_announcement_the_ivr_reads(client, session, jurisdiction, staff):
    incident = raised(session, jurisdiction)
    session.commit()
    text = "We know about the water main break on Elm St; crews are on site."

    response = client.put(
        f"{API}/incidents/{incident.id}/announcement",
        json={"text": text},
        headers=auth(staff["supervisor"]),
    )

    assert response.status_code == 200
    assert response.get_json()["data"]["announcement"] == text
    assert incident_announcements(fresh(session), jurisdiction.id) == [text]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"text": "x" * 501}, "text"), ({}, "text"), ({"text": 5}, "text"), ({"txt": "a"}, "txt")],
)
def test_bad_announcement_is_400_naming_the_field(
    client, session, jurisdiction, staff, body, field
):
    incident = raised(session, jurisdiction)
    session.commit()

    response = client.put(
        f"{API}/incidents/{incident.id}/announcement", json=body, headers=auth(staff["supervisor"])
    )

    error = assert_error(response, 400, "invalid_fields")
    assert field in error["fields"]


# ---------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL: SQLite runs one writer at a time)


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="needs TEST_DATABASE_URL (PostgreSQL): concurrent sessions only race on a real server",
)
def test_two_cases_completing_a_burst_at_once_raise_one_incident(app, session, jurisdiction):
    four = DetectionSettings(incident_threshold=4)
    for north in (0, 10, 20):
        case_at(session, jurisdiction, north)
    session.commit()
    db = get_db(app)
    first, second = db.session(), db.session()
    outcome: dict[str, Any] = {}

    def arrive(db_session: Session, north: float) -> tuple[Case, Incident | None]:
        city = db_session.get_one(Jurisdiction, jurisdiction.id)
        case = case_at(db_session, city, north)
        db_session.flush()
        return case, detect_incident(db_session, case, four)

    def racer() -> None:
        outcome["case"], outcome["incident"] = arrive(second, 40)
        second.commit()

    try:
        case_a, raised_by_a = arrive(first, 30)
        assert raised_by_a is not None  # not committed yet: the racer still sees no incident
        thread = threading.Thread(target=racer)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive(), "the second transaction should wait for the first"
        first.commit()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        first.close()
        second.close()

    fresh(session)
    assert [i.id for i in incidents(session)] == [raised_by_a.id]
    assert outcome["incident"] is not None and outcome["incident"].id == raised_by_a.id
    assert session.get_one(Incident, raised_by_a.id).case_count == 5
    members = session.scalars(sa.select(Case.id).where(Case.incident_id == raised_by_a.id)).all()
    assert len(members) == 5 and {case_a.id, outcome["case"].id} <= set(members)
