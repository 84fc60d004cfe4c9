"""Likely duplicates: detection, the agents' decisions through the API, and confirmed
duplicates following their parent's status (each resident told on their own channel).

Cases are placed around one street corner; 0.0001 degree of latitude is about 11 metres.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter import texts
from contactcenter.agents.models import Role
from contactcenter.cases.duplicates import (
    confirm_duplicate,
    detect_duplicate,
    normalize_address,
    reject_duplicate,
)
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, DuplicateStatus
from contactcenter.db import utcnow
from contactcenter.i18n import translate
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.settings import (
    DetectionSettings,
    detection_settings,
    update_detection_settings,
)
from contactcenter.messages import ContactKind
from contactcenter.residents.models import Resident
from contactcenter.residents.service import find_or_create_resident
from tests import factories

API = "/api/v1"
LAT, LON = 45.4215, -75.6972
METRE = 1 / 111_195  # degrees of latitude per metre
DEFAULTS = DetectionSettings()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def case_at(
    session: Session,
    jurisdiction: Jurisdiction,
    metres_north: float | None = 0.0,
    *,
    code: str = "pothole",
    **fields: Any,
) -> Case:
    """A pothole case ``metres_north`` of the corner (no coordinates when None)."""
    location: dict[str, Any] = {}
    if metres_north is not None:
        location = {"latitude": LAT + metres_north * METRE, "longitude": LON}
    return factories.make_case(
        session,
        jurisdiction,
        service_type=factories.service_type(session, jurisdiction, code),
        **location,
        **fields,
    )


def events(session: Session, case: Case, kind: str) -> list[CaseEvent]:
    return list(
        session.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)
            .order_by(CaseEvent.id)
        )
    )


def fresh(session: Session) -> Session:
    """``session``, forgetting what it cached: requests wrote in their own sessions."""
    session.commit()
    session.expire_all()
    return session


def resident(session: Session, jurisdiction: Jurisdiction, phone: str, language: str) -> Resident:
    person, _ = find_or_create_resident(session, jurisdiction, ContactKind.PHONE, phone)
    person.preferred_language = language
    session.flush()
    return person


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


@pytest.fixture
def token(session: Session, jurisdiction: Jurisdiction) -> str:
    _, value = factories.make_agent(session, [jurisdiction])
    session.commit()
    return value


# ---------------------------------------------------------------------------------------------
# Detection


def test_nearest_open_case_within_the_radius_becomes_the_suspected_parent(session, jurisdiction):
    farther = case_at(session, jurisdiction, 40)
    nearest = case_at(session, jurisdiction, 10)
    new = case_at(session, jurisdiction, 0)

    assert detect_duplicate(session, new, DEFAULTS) is nearest
    session.commit()

    assert new.duplicate_of is nearest
    assert new.duplicate_status == DuplicateStatus.SUSPECTED
    [suspected] = events(session, new, "duplicate_suspected")
    assert suspected.data["parent"] == nearest.tracking_number
    assert suspected.data["distance_m"] == pytest.approx(10, abs=0.5)
    [linked] = events(session, nearest, "duplicate_linked")
    assert linked.data["duplicate"] == new.tracking_number
    assert events(session, farther, "duplicate_linked") == []


def test_case_outside_the_radius_is_not_linked(session, jurisdiction):
    case_at(session, jurisdiction, 60)
    new = case_at(session, jurisdiction, 0)

    assert detect_duplicate(session, new, DEFAULTS) is None
    assert new.duplicate_of_id is None and new.duplicate_status is None
    assert events(session, new, "duplicate_suspected") == []


def test_case_of_another_service_type_is_not_linked(session, jurisdiction):
    case_at(session, jurisdiction, 5, code="missed-pickup")
    new = case_at(session, jurisdiction, 0)

    assert detect_duplicate(session, new, DEFAULTS) is None


def test_case_older_than_the_window_is_not_linked(session, jurisdiction):
    case_at(session, jurisdiction, 5, created_at=utcnow() - dt.timedelta(hours=73))
    new = case_at(session, jurisdiction, 0)

    assert detect_duplicate(session, new, DEFAULTS) is None


@pytest.mark.parametrize("status", [CaseStatus.RESOLVED, CaseStatus.CLOSED])
def test_resolved_or_closed_case_is_not_a_parent(session, jurisdiction, status):
    case_at(session, jurisdiction, 5, status=status)
    new = case_at(session, jurisdiction, 0)

    assert detect_duplicate(session, new, DEFAULTS) is None


def test_case_of_another_jurisdiction_is_not_linked(session, jurisdiction):
    other = factories.make_jurisdiction(session, slug="shelbyville", sms_number="+16135550312")
    case_at(session, other, 0)
    new = case_at(session, jurisdiction, 0)

    assert detect_duplicate(session, new, DEFAULTS) is None


def test_without_coordinates_the_same_address_links(session, jurisdiction):
    parent = case_at(session, jurisdiction, None, address_text="12 Main St.")
    case_at(session, jurisdiction, None, address_text="14 Main St")
    new = case_at(session, jurisdiction, None, address_text="  12   MAIN st ")

    assert detect_duplicate(session, new, DEFAULTS) is parent
    [suspected] = events(session, new, "duplicate_suspected")
    assert suspected.data["distance_m"] is None


@pytest.mark.parametrize("address", ["", "  ...  "])
def test_without_coordinates_an_empty_address_links_nothing(session, jurisdiction, address):
    case_at(session, jurisdiction, None, address_text=address)
    new = case_at(session, jurisdiction, None, address_text=address)

    assert detect_duplicate(session, new, DEFAULTS) is None


def test_address_normalization_ignores_case_spacing_and_punctuation():
    assert normalize_address(" 12,  Rue   Sainte-Catherine. ") == "12 rue sainte catherine"
    assert normalize_address("STRASSE") == normalize_address("straße")


def test_duplicate_of_a_duplicate_links_to_the_root(session, jurisdiction):
    root = case_at(session, jurisdiction, 70)
    middle = case_at(session, jurisdiction, 30)
    assert detect_duplicate(session, middle, DEFAULTS) is root
    new = case_at(session, jurisdiction, 0)  # 30 m from middle, 70 m from the root

    assert detect_duplicate(session, new, DEFAULTS) is root
    assert new.duplicate_of is root
    [suspected] = events(session, new, "duplicate_suspected")
    assert suspected.data["parent"] == root.tracking_number
    assert suspected.data["distance_m"] == pytest.approx(70, abs=0.5)


def test_rejected_suggestion_is_never_made_again(session, jurisdiction):
    agent, _ = factories.make_agent(session, [jurisdiction])
    parent = case_at(session, jurisdiction, 5)
    new = case_at(session, jurisdiction, 0)
    detect_duplicate(session, new, DEFAULTS)
    reject_duplicate(session, new, agent)

    assert detect_duplicate(session, new, DEFAULTS) is None
    assert new.duplicate_of is parent
    assert new.duplicate_status == DuplicateStatus.REJECTED


def test_case_judged_not_a_duplicate_of_a_case_is_never_suggested_as_its_parent(
    session, jurisdiction
):
    earlier = case_at(session, jurisdiction, 0)
    # An agent said ``earlier`` is not a duplicate of ``later``; ``later`` is then detected.
    later = case_at(session, jurisdiction, 5, created_at=earlier.created_at + dt.timedelta(1))
    earlier.duplicate_of = later
    earlier.duplicate_status = DuplicateStatus.REJECTED
    session.flush()

    assert detect_duplicate(session, later, DEFAULTS) is None


def test_jurisdiction_radius_setting_widens_detection(session, jurisdiction):
    parent = case_at(session, jurisdiction, 90)
    new = case_at(session, jurisdiction, 0)
    update_detection_settings(jurisdiction, {"duplicate_radius_m": 100})

    assert detect_duplicate(session, new, detection_settings(jurisdiction)) is parent


# ---------------------------------------------------------------------------------------------
# The agents' decisions, through the API


def suspected_pair(
    session: Session, jurisdiction: Jurisdiction, code: str = "pothole"
) -> tuple[Case, Case]:
    parent = case_at(session, jurisdiction, 5, code=code)
    new = case_at(session, jurisdiction, 0, code=code)
    assert detect_duplicate(session, new, DEFAULTS) is parent
    session.commit()
    return parent, new


def test_agent_confirms_a_suspected_duplicate(client, session, jurisdiction, token):
    parent, new = suspected_pair(session, jurisdiction)

    response = client.post(
        f"{API}/cases/{new.id}/duplicate", json={"action": "confirm"}, headers=auth(token)
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert data["tracking_number"] == new.tracking_number
    assert data["duplicate_of"] == parent.tracking_number
    assert data["duplicate_status"] == "confirmed"
    fresh(session)
    assert new.duplicate_status == DuplicateStatus.CONFIRMED
    [confirmed] = events(session, new, "duplicate_confirmed")
    assert confirmed.actor_agent_id is not None and confirmed.actor == "agent"


def test_agent_rejects_a_suspected_duplicate_and_the_link_stays_visible(
    client, session, jurisdiction, token
):
    parent, new = suspected_pair(session, jurisdiction)

    response = client.post(
        f"{API}/cases/{new.id}/duplicate", json={"action": "reject"}, headers=auth(token)
    )

    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["duplicate_status"] == "rejected"
    assert data["duplicate_of"] == parent.tracking_number
    fresh(session)
    assert events(session, new, "duplicate_rejected")[0].actor_agent_id is not None


def test_confirming_a_case_that_is_not_a_suspected_duplicate_is_409(
    client, session, jurisdiction, token
):
    lone = case_at(session, jurisdiction, 0)
    _, new = suspected_pair(session, jurisdiction, code="missed-pickup")
    confirm_duplicate(session, new, factories.make_agent(session, [jurisdiction])[0])
    session.commit()

    for case in (lone, new):
        response = client.post(
            f"{API}/cases/{case.id}/duplicate", json={"action": "confirm"}, headers=auth(token)
        )
        assert_error(response, 409, "not_suspected")
    rejected = client.post(
        f"{API}/cases/{lone.id}/duplicate", json={"action": "reject"}, headers=auth(token)
    )
    assert_error(rejected, 409, "not_duplicate")


def test_agent_links_a_case_by_tracking_number_as_a_confirmed_duplicate(
    client, session, jurisdiction, token
):
    parent = case_at(session, jurisdiction, 500)
    case = case_at(session, jurisdiction, 0)
    session.commit()
    typed = parent.tracking_number.replace("-", "")

    response = client.post(
        f"{API}/cases/{case.id}/duplicate",
        json={"action": "link", "parent": typed},
        headers=auth(token),
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert data["duplicate_of"] == parent.tracking_number
    assert data["duplicate_status"] == "confirmed"
    fresh(session)
    assert events(session, case, "duplicate_marked")[0].actor_agent_id is not None


def test_linking_to_a_duplicate_links_to_its_root_and_a_cycle_is_409(
    client, session, jurisdiction, token
):
    root, middle = suspected_pair(session, jurisdiction)
    case = case_at(session, jurisdiction, 800)
    session.commit()

    linked = client.post(
        f"{API}/cases/{case.id}/duplicate",
        json={"action": "link", "parent": middle.tracking_number},
        headers=auth(token),
    )
    assert linked.get_json()["data"]["duplicate_of"] == root.tracking_number

    cycle = client.post(
        f"{API}/cases/{root.id}/duplicate",
        json={"action": "link", "parent": case.tracking_number},
        headers=auth(token),
    )
    assert_error(cycle, 409, "duplicate_cycle")
    itself = client.post(
        f"{API}/cases/{case.id}/duplicate",
        json={"action": "link", "parent": case.tracking_number},
        headers=auth(token),
    )
    assert_error(itself, 400, "self_duplicate")


def test_duplicate_actions_on_another_jurisdictions_case_answer_404(client, session, jurisdiction):
    other = factories.make_jurisdiction(session, slug="shelbyville", sms_number="+16135550312")
    _, outsider = factories.make_agent(session, [other])
    _, new = suspected_pair(session, jurisdiction)
    foreign_parent = case_at(session, other, 0)
    _, insider = factories.make_agent(session, [jurisdiction])
    session.commit()

    for body in ({"action": "confirm"}, {"action": "reject"}):
        response = client.post(f"{API}/cases/{new.id}/duplicate", json=body, headers=auth(outsider))
        assert_error(response, 404, "case_not_found")
    # Naming another jurisdiction's case as the parent answers like an unknown number.
    response = client.post(
        f"{API}/cases/{new.id}/duplicate",
        json={"action": "link", "parent": foreign_parent.tracking_number},
        headers=auth(insider),
    )
    error = assert_error(response, 400, "parent_not_found")
    assert error["fields"] == {"parent": "no case with this tracking number"}
    fresh(session)
    assert new.duplicate_status == DuplicateStatus.SUSPECTED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "merge"}, "action"),
        ({}, "action"),
        ({"action": "link"}, "parent"),
        ({"action": "confirm", "parent": "1234-5678"}, "parent"),
        ({"action": "confirm", "extra": 1}, "extra"),
        ({"action": "link", "parent": "x" * 40}, "parent"),
    ],
)
def test_bad_duplicate_request_is_400_naming_the_field(
    client, session, jurisdiction, token, body, field
):
    _, new = suspected_pair(session, jurisdiction)

    response = client.post(f"{API}/cases/{new.id}/duplicate", json=body, headers=auth(token))

    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


def test_non_json_duplicate_request_is_400(client, session, jurisdiction, token):
    _, new = suspected_pair(session, jurisdiction)

    response = client.post(f"{API}/cases/{new.id}/duplicate", data="confirm", headers=auth(token))

    assert_error(response, 400, "invalid_body")


# ---------------------------------------------------------------------------------------------
# Following the parent


def reported_three_times(session: Session, jurisdiction: Jurisdiction) -> tuple[Case, list[Case]]:
    """One pothole reported by three residents; the two later reports confirmed duplicates."""
    agent, _ = factories.make_agent(session, [jurisdiction])
    first = case_at(
        session, jurisdiction, 0, resident=resident(session, jurisdiction, "+16135550101", "en")
    )
    later = []
    for phone, language, north in (("+16135550102", "fr", 8), ("+16135550103", "es", 16)):
        case = case_at(
            session,
            jurisdiction,
            north,
            resident=resident(session, jurisdiction, phone, language),
            language=language,
        )
        assert detect_duplicate(session, case, DEFAULTS) is first
        confirm_duplicate(session, case, agent)
        later.append(case)
    session.commit()
    return first, later


def sms_to(twilio_http: Any, phone: str) -> list[str]:
    return [m["Body"] for m in twilio_http.messages if m["To"] == phone]


def expected(case: Case, message: str, language: str) -> str:
    return translate(
        language,
        message,
        city=case.jurisdiction.name,
        tracking=case.tracking_number,
        service=case.service_type.localized_name(language) if case.service_type else "",
    )


def test_confirmed_duplicates_follow_their_parent_to_resolved_then_closed(
    client, session, jurisdiction, token, twilio_http, run_jobs
):
    parent, (french, spanish) = reported_three_times(session, jurisdiction)

    resolved = client.post(
        f"{API}/cases/{parent.id}/status", json={"status": "resolved"}, headers=auth(token)
    )
    assert resolved.status_code == 200, resolved.get_data(as_text=True)
    run_jobs()

    fresh(session)
    assert [parent.status, french.status, spanish.status] == [CaseStatus.RESOLVED] * 3
    assert sms_to(twilio_http, "+16135550102") == [expected(french, texts.CASE_RESOLVED, "fr")]
    assert "a été résolue" in sms_to(twilio_http, "+16135550102")[0]
    assert sms_to(twilio_http, "+16135550103") == [expected(spanish, texts.CASE_RESOLVED, "es")]
    [followed] = events(session, french, "followed_parent")
    assert followed.data == {"parent": parent.tracking_number, "status": "resolved"}
    assert followed.actor_agent_id is not None

    closed = client.post(
        f"{API}/cases/{parent.id}/status", json={"status": "closed"}, headers=auth(token)
    )
    assert closed.status_code == 200
    run_jobs()

    fresh(session)
    assert [parent.status, french.status, spanish.status] == [CaseStatus.CLOSED] * 3
    assert french.closed_at is not None and spanish.closed_at is not None


def test_each_duplicates_resident_gets_the_closing_sms_when_the_parent_is_closed(
    client, session, jurisdiction, token, twilio_http, run_jobs
):
    parent, (french, spanish) = reported_three_times(session, jurisdiction)

    response = client.post(
        f"{API}/cases/{parent.id}/status", json={"status": "closed"}, headers=auth(token)
    )
    assert response.status_code == 200
    run_jobs()

    fresh(session)
    assert [french.status, spanish.status] == [CaseStatus.CLOSED] * 2
    assert sms_to(twilio_http, "+16135550101") == [
        expected(parent, texts.CASE_CLOSED, "en"),
        expected(parent, texts.SURVEY_SMS, "en"),  # the parent's resident only is surveyed
    ]
    assert sms_to(twilio_http, "+16135550102") == [expected(french, texts.CASE_CLOSED, "fr")]
    assert sms_to(twilio_http, "+16135550103") == [expected(spanish, texts.CASE_CLOSED, "es")]
    assert french.tracking_number in sms_to(twilio_http, "+16135550102")[0]


def test_rejected_and_suspected_duplicates_do_not_follow(
    client, session, jurisdiction, token, twilio_http, run_jobs
):
    agent, _ = factories.make_agent(session, [jurisdiction])
    parent = case_at(session, jurisdiction, 0)
    rejected = case_at(
        session, jurisdiction, 5, resident=resident(session, jurisdiction, "+16135550104", "en")
    )
    suspected = case_at(session, jurisdiction, 10)
    detect_duplicate(session, rejected, DEFAULTS)
    detect_duplicate(session, suspected, DEFAULTS)
    reject_duplicate(session, rejected, agent)
    session.commit()

    response = client.post(
        f"{API}/cases/{parent.id}/status", json={"status": "resolved"}, headers=auth(token)
    )
    assert response.status_code == 200
    run_jobs()

    fresh(session)
    assert parent.status == CaseStatus.RESOLVED
    assert rejected.status == CaseStatus.NEW and suspected.status == CaseStatus.NEW
    assert sms_to(twilio_http, "+16135550104") == []


def test_duplicate_that_cannot_make_the_transition_is_skipped(client, session, jurisdiction, token):
    parent, (french, spanish) = reported_three_times(session, jurisdiction)
    french.status = CaseStatus.CLOSED
    session.commit()

    response = client.post(
        f"{API}/cases/{parent.id}/status", json={"status": "resolved"}, headers=auth(token)
    )

    assert response.status_code == 200
    fresh(session)
    assert french.status == CaseStatus.CLOSED  # closed -> resolved is not a transition
    assert spanish.status == CaseStatus.RESOLVED
    assert events(session, french, "followed_parent") == []


def test_duplicate_confirmed_after_its_parent_was_closed_follows_at_once(
    client, session, jurisdiction, token, twilio_http, run_jobs
):
    parent, new = suspected_pair(session, jurisdiction)
    new.resident = resident(session, jurisdiction, "+16135550105", "fr")
    parent.status = CaseStatus.CLOSED
    session.commit()

    response = client.post(
        f"{API}/cases/{new.id}/duplicate", json={"action": "confirm"}, headers=auth(token)
    )
    run_jobs()

    assert response.status_code == 200
    assert response.get_json()["data"]["status"] == "closed"
    fresh(session)
    assert new.status == CaseStatus.CLOSED
    assert sms_to(twilio_http, "+16135550105") == [expected(new, texts.CASE_CLOSED, "fr")]


def test_case_linked_by_hand_to_a_resolved_parent_follows_at_once(
    client, session, jurisdiction, token
):
    parent = case_at(session, jurisdiction, 0, status=CaseStatus.RESOLVED)
    case = case_at(session, jurisdiction, 300)
    session.commit()

    response = client.post(
        f"{API}/cases/{case.id}/duplicate",
        json={"action": "link", "parent": parent.tracking_number},
        headers=auth(token),
    )

    assert response.status_code == 200
    fresh(session)
    assert case.status == CaseStatus.RESOLVED


def test_reopening_the_parent_reopens_its_confirmed_duplicates(
    client, session, jurisdiction, token
):
    parent, (french, _) = reported_three_times(session, jurisdiction)
    for status in ("resolved", "open"):
        response = client.post(
            f"{API}/cases/{parent.id}/status", json={"status": status}, headers=auth(token)
        )
        assert response.status_code == 200

    fresh(session)
    assert french.status == CaseStatus.OPEN
    assert french.resolved_at is None


# ---------------------------------------------------------------------------------------------
# Detection settings


def test_stored_garbage_falls_back_to_the_defaults(session, jurisdiction):
    jurisdiction.settings = {"detection": {"duplicate_radius_m": "far", "incident_threshold": 9}}
    assert detection_settings(jurisdiction) == DetectionSettings(incident_threshold=9)

    jurisdiction.settings = {"detection": ["not", "a", "dict"]}
    assert detection_settings(jurisdiction) == DEFAULTS

    jurisdiction.settings = {"detection": {"surprise": True, "incident_radius_m": 1e9}}
    assert detection_settings(jurisdiction) == DEFAULTS


def test_admin_reads_and_changes_detection_settings(client, session, jurisdiction):
    _, admin = factories.make_agent(session, [jurisdiction], role=Role.ADMIN)
    session.commit()

    shown = client.get(f"{API}/settings/detection", headers=auth(admin))
    assert shown.status_code == 200
    assert shown.get_json() == {"jurisdiction": "springfield", "data": DEFAULTS.model_dump()}

    changed = client.patch(
        f"{API}/settings/detection",
        json={"duplicate_radius_m": 75, "incident_threshold": 8},
        headers=auth(admin),
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["data"]["duplicate_radius_m"] == 75
    fresh(session)
    assert detection_settings(jurisdiction).incident_threshold == 8
    assert jurisdiction.settings["detection"] == {
        "duplicate_radius_m": 75,
        "incident_threshold": 8,
    }

    reset = client.patch(
        f"{API}/settings/detection", json={"incident_threshold": None}, headers=auth(admin)
    )
    assert reset.get_json()["data"]["incident_threshold"] == DEFAULTS.incident_threshold
    assert reset.get_json()["data"]["duplicate_radius_m"] == 75


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duplicate_radius_m": -1}, "duplicate_radius_m"),
        ({"duplicate_window_hours": 5000}, "duplicate_window_hours"),
        ({"incident_threshold": 1}, "incident_threshold"),
        ({"incident_threshold": "5"}, "incident_threshold"),
        ({"incident_threshold": True}, "incident_threshold"),
        ({"incident_radius_m": 0}, "incident_radius_m"),
        ({"incident_window_minutes": 2.5}, "incident_window_minutes"),
        ({"radius": 10}, "radius"),
    ],
)
def test_invalid_detection_setting_is_400_naming_the_field(
    client, session, jurisdiction, body, field
):
    _, admin = factories.make_agent(session, [jurisdiction], role=Role.ADMIN)
    session.commit()

    response = client.patch(f"{API}/settings/detection", json=body, headers=auth(admin))

    error = assert_error(response, 400, "invalid_settings")
    assert list(error["fields"]) == [field]
    fresh(session)
    assert detection_settings(jurisdiction) == DEFAULTS


def test_detection_settings_need_an_admin_and_a_named_jurisdiction_when_several(
    client, session, jurisdiction
):
    other = factories.make_jurisdiction(session, slug="shelbyville", sms_number="+16135550312")
    _, agent = factories.make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    _, admin = factories.make_agent(session, [jurisdiction, other], role=Role.ADMIN)
    session.commit()

    assert_error(client.get(f"{API}/settings/detection", headers=auth(agent)), 403, "role_required")
    ambiguous = client.get(f"{API}/settings/detection", headers=auth(admin))
    assert_error(ambiguous, 400, "jurisdiction_required")
    named = client.patch(
        f"{API}/settings/detection?jurisdiction=shelbyville",
        json={"duplicate_radius_m": 10},
        headers=auth(admin),
    )
    assert named.get_json()["jurisdiction"] == "shelbyville"
    fresh(session)
    assert detection_settings(other).duplicate_radius_m == 10
    assert detection_settings(jurisdiction) == DEFAULTS
    foreign = client.get(f"{API}/settings/detection?jurisdiction=elsewhere", headers=auth(admin))
    assert_error(foreign, 404, "jurisdiction_not_found")
    not_an_object = client.patch(
        f"{API}/settings/detection?jurisdiction=shelbyville", json=[1], headers=auth(admin)
    )
    assert_error(not_an_object, 400, "invalid_body")
