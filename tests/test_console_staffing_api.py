"""The forecast and staffing API (``/api/v1/performance/forecast`` and ``/staffing``): the
figures on a hand-built history, supervisors only, one jurisdiction's data never another's,
and bad input refused with a message naming it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.models import ContactDaily
from tests import factories
from tests.test_forecast import MONDAY, add, local

API = "/api/v1/performance"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def history(
    session: Session,
    city: Jurisdiction,
    per_half_hour: int,
    weeks: int = 4,
    *,
    queue_id: int = 0,
    aht: int = 180,
) -> None:
    """``per_half_hour`` voice contacts on each Monday at 09:00 of the weeks before MONDAY,
    handled in ``aht`` seconds on average."""
    for week in range(1, weeks + 1):
        monday = MONDAY - dt.timedelta(weeks=week)
        add(session, city, local(monday, 9), per_half_hour // 2, queue_id=queue_id)
        add(
            session,
            city,
            local(monday, 9, 15),
            per_half_hour - per_half_hour // 2,
            queue_id=queue_id,
        )
        session.add(
            ContactDaily(
                jurisdiction_id=city.id,
                day=monday,
                queue_id=queue_id,
                channel="voice",
                handled=per_half_hour,
                handle_seconds=per_half_hour * aht,
            )
        )
    session.commit()


@pytest.fixture
def boss(session: Session, city: Jurisdiction) -> str:
    _, token = factories.make_agent(session, [city], role=Role.SUPERVISOR)
    session.commit()
    return token


def point_at(points: list[dict[str, Any]], at: dt.datetime) -> dict[str, Any]:
    return next(p for p in points if p["start"] == at.isoformat())


def test_the_forecast_of_a_flat_history_with_actuals_and_definitions(
    client: FlaskClient, session: Session, city: Jurisdiction, boss: str
) -> None:
    history(session, city, 100)
    response = client.get(
        f"{API}/forecast?channel=voice&start={MONDAY}&weeks=2", headers=auth(boss)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert len(data["points"]) == 2 * 7 * 48
    assert point_at(data["points"], local(MONDAY, 9)) == {
        "start": "2026-02-16T09:00:00-05:00",
        "forecast": 100.0,
        "actual": 0,  # the half-hour is long past, and nothing arrived
    }
    assert data["weekly_totals"] == [100] * 4
    assert {"forecast", "actual"} <= set(data["definitions"])
    assert response.get_json()["jurisdiction"] == city.slug


def test_staffing_agrees_with_the_worked_example(
    client: FlaskClient, session: Session, city: Jurisdiction, boss: str
) -> None:
    history(session, city, 100)
    response = client.get(
        f"{API}/staffing?channel=voice&start={MONDAY}&max_occupancy=0.85&shrinkage=0.3",
        headers=auth(boss),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert (data["aht_seconds"], data["aht_source"]) == (180.0, "history")
    assert data["target"] == {"seconds": 20, "percent": 80}
    assert len(data["intervals"]) == 7 * 48
    row = point_at(data["intervals"], local(MONDAY, 9))
    assert (row["forecast"], row["agents"], row["scheduled_agents"]) == (100.0, 14, 20)
    assert row["traffic_erlangs"] == pytest.approx(10.0)
    assert row["service_level"] == pytest.approx(0.888, abs=1e-3)
    assert row["probability_waiting"] == pytest.approx(0.1741, abs=1e-4)
    assert row["asa_seconds"] == pytest.approx(7.8)
    quiet = point_at(data["intervals"], local(MONDAY, 3))
    assert (quiet["forecast"], quiet["agents"], quiet["scheduled_agents"]) == (0.0, 0, 0)
    assert "scheduled_agents" in data["definitions"]


def test_staffing_takes_a_given_handle_time_and_target(
    client: FlaskClient, session: Session, city: Jurisdiction, boss: str
) -> None:
    history(session, city, 100)
    response = client.get(
        f"{API}/staffing?start={MONDAY}&aht_seconds=360&target_seconds=30&target_percent=90"
        "&max_occupancy=1&shrinkage=0",
        headers=auth(boss),
    )
    data = response.get_json()["data"]
    assert (data["aht_seconds"], data["aht_source"]) == (360.0, "given")
    assert data["target"] == {"seconds": 30, "percent": 90}
    row = point_at(data["intervals"], local(MONDAY, 9))
    assert row["traffic_erlangs"] == pytest.approx(20.0)
    assert row["agents"] == row["scheduled_agents"] > 20


def test_without_history_the_handle_time_is_the_default(
    client: FlaskClient, city: Jurisdiction, boss: str
) -> None:
    response = client.get(f"{API}/staffing?start={MONDAY}&channel=webchat", headers=auth(boss))
    data = response.get_json()["data"]
    assert (data["aht_seconds"], data["aht_source"]) == (180.0, "default")
    assert data["target"] == {"seconds": 60, "percent": 80}
    assert {row["agents"] for row in data["intervals"]} == {0}


def test_one_queue_has_its_own_contacts_handle_time_and_target(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    boss: str,
) -> None:
    roads = factories.make_queue(session, city, "roads", name="Roads")
    roads.service_targets = {"voice": {"seconds": 30, "percent": 90}}
    general = factories.make_queue(session, city, "general", name="General")
    theirs = factories.make_queue(session, other_city, "roads", name="Roads")
    session.commit()
    history(session, city, 40, queue_id=roads.id, aht=360)
    history(session, city, 60, queue_id=general.id)
    response = client.get(f"{API}/staffing?start={MONDAY}&queue={roads.id}", headers=auth(boss))
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert data["queue_id"] == roads.id
    assert data["target"] == {"seconds": 30, "percent": 90}
    assert (data["aht_seconds"], data["aht_source"]) == (360.0, "history")
    assert point_at(data["intervals"], local(MONDAY, 9))["forecast"] == 40.0
    every = client.get(f"{API}/forecast?start={MONDAY}", headers=auth(boss)).get_json()["data"]
    assert point_at(every["points"], local(MONDAY, 9))["forecast"] == 100.0
    for path in ("forecast", "staffing"):
        refused = client.get(f"{API}/{path}?queue={theirs.id}", headers=auth(boss))
        assert refused.status_code == 404
        assert refused.get_json()["error"]["code"] == "queue_not_found"
    inbound = client.get(f"{API}/forecast?queue={roads.id}&measure=inbound", headers=auth(boss))
    assert inbound.status_code == 400
    assert "inbound interactions have no queue" in inbound.get_json()["error"]["message"]


def test_only_supervisors_may_read_them(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    _, token = factories.make_agent(session, [city], role=Role.AGENT)
    session.commit()
    for path in ("forecast", "staffing"):
        assert client.get(f"{API}/{path}", headers=auth(token)).status_code == 403
        assert client.get(f"{API}/{path}").status_code == 401


def test_one_jurisdiction_never_sees_another(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    boss: str,
) -> None:
    history(session, city, 10)
    history(session, other_city, 60)
    for path in ("forecast", "staffing"):
        response = client.get(
            f"{API}/{path}?jurisdiction={other_city.slug}&start={MONDAY}", headers=auth(boss)
        )
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "jurisdiction_not_found"
    mine = client.get(f"{API}/forecast?start={MONDAY}", headers=auth(boss)).get_json()["data"]
    assert point_at(mine["points"], local(MONDAY, 9))["forecast"] == 10.0
    _, theirs = factories.make_agent(session, [other_city], role=Role.SUPERVISOR)
    session.commit()
    data = client.get(f"{API}/forecast?start={MONDAY}", headers=auth(theirs)).get_json()["data"]
    assert point_at(data["points"], local(MONDAY, 9))["forecast"] == 60.0


def test_the_default_start_is_this_weeks_monday(
    client: FlaskClient, city: Jurisdiction, boss: str
) -> None:
    data = client.get(f"{API}/forecast?weeks=1", headers=auth(boss)).get_json()["data"]
    start = dt.date.fromisoformat(data["start"])
    assert start.weekday() == 0
    assert 0 <= (dt.date.today() - start).days <= 7


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("forecast", "weeks=0", "weeks"),
        ("forecast", "weeks=13", "weeks"),
        ("forecast", "weeks=two", "weeks"),
        ("forecast", "history_weeks=27", "history_weeks"),
        ("forecast", "start=tomorrow", "start"),
        ("forecast", "start=9999-01-04", "start"),
        ("forecast", "channel=fax", "channel"),
        ("forecast", "measure=answered", "measure"),
        ("forecast", "profile=mode", "profile"),
        ("forecast", "colour=blue", "colour"),
        ("forecast", "queue=0", "queue"),
        ("forecast", "queue=99999999999999999999", "queue"),
        ("staffing", "aht_seconds=0", "aht_seconds"),
        ("staffing", "aht_seconds=nan", "aht_seconds"),
        ("staffing", "aht_seconds=inf", "aht_seconds"),
        ("staffing", "target_seconds=-1", "target_seconds"),
        ("staffing", "target_percent=100", "target_percent"),
        ("staffing", "max_occupancy=0", "max_occupancy"),
        ("staffing", "max_occupancy=1.2", "max_occupancy"),
        ("staffing", "shrinkage=1", "shrinkage"),
        ("staffing", "shrinkage=-0.1", "shrinkage"),
        ("staffing", "start=2026-02-30", "start"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    client: FlaskClient, city: Jurisdiction, boss: str, path: str, query: str, named: str
) -> None:
    response = client.get(f"{API}/{path}?{query}", headers=auth(boss))
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert named in error["message"]
    assert named in error["fields"]


def test_a_workload_beyond_the_calculator_is_a_400_with_its_reason(
    client: FlaskClient, session: Session, city: Jurisdiction, boss: str
) -> None:
    history(session, city, 2_000_000, weeks=1)
    response = client.get(f"{API}/staffing?start={MONDAY}&aht_seconds=600000", headers=auth(boss))
    assert response.status_code == 400
    assert "more than this calculator takes" in response.get_json()["error"]["message"]
