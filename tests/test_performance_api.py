"""The performance staff API: who may read it, which jurisdiction, what a bad period answers,
and the dashboard and scorecard agreeing with the records behind their figures."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, get_args

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.api import performance_views as pv
from contactcenter.performance.contacts import rebuild_contact_rollups
from contactcenter.performance.dashboard import director_scorecard, supervisor_dashboard
from contactcenter.performance.drilldown import FIGURES
from contactcenter.performance.exports import CASE_COLUMNS, CONTACT_COLUMNS, INTERACTION_COLUMNS
from contactcenter.routing.models import WorkKind, WorkState
from tests import factories
from tests.test_performance_api_drilldown import (
    EXPECTED,
    WEEK_END,
    WEEK_START,
    History,
    _case,
    _work,
    build_history,
    local,
)

WEEK = {"from": WEEK_START.isoformat(), "to": WEEK_END.isoformat()}
ROUTES = (
    "/api/v1/performance/dashboard",
    "/api/v1/performance/scorecard",
    "/api/v1/performance/contacts",
    "/api/v1/performance/agents",
    "/api/v1/performance/service",
    "/api/v1/performance/satisfaction",
    "/api/v1/performance/cases?figure=opened",
    "/api/v1/performance/export/cases.csv",
    "/api/v1/performance/export/contacts.csv",
    "/api/v1/performance/export/interactions.csv",
)


@pytest.fixture
def history(session: Session) -> History:
    found = build_history(session)
    rebuild_contact_rollups(session, found.city.id)
    session.commit()
    return found


@dataclass
class Staff:
    supervisor_token: str
    agent_token: str


@pytest.fixture
def staff(session: Session) -> Staff:
    """Springfield's supervisor and agent (Shelbyville exists too), and no history."""
    city = factories.make_jurisdiction(session, slug="springfield")
    factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    _boss, supervisor_token = factories.make_agent(session, [city], role=Role.SUPERVISOR)
    _agent, agent_token = factories.make_agent(session, [city])
    session.commit()
    return Staff(supervisor_token, agent_token)


def _get(client: FlaskClient, route: str, token: str, **params: str) -> Any:
    path, _, query = route.partition("?")
    if query:
        params = {**dict(p.split("=") for p in query.split("&")), **params}
    return client.get(path, query_string=params, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("route", ROUTES)
def test_supervisors_read_the_figures_and_agents_may_not(
    client: FlaskClient, staff: Staff, route: str
) -> None:
    assert _get(client, route, staff.agent_token, **WEEK).status_code == 403
    response = _get(client, route, staff.supervisor_token, **WEEK)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith(
        "text/csv" if route.endswith(".csv") else "application/json"
    )


@pytest.mark.parametrize("route", ROUTES)
def test_another_jurisdiction_is_not_found(client: FlaskClient, staff: Staff, route: str) -> None:
    response = _get(client, route, staff.supervisor_token, jurisdiction="shelbyville", **WEEK)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "jurisdiction_not_found"


def test_another_citys_supervisor_sees_none_of_this_citys_records(
    client: FlaskClient, session: Session, history: History
) -> None:
    _boss, token = factories.make_agent(session, [history.other], role=Role.SUPERVISOR)
    session.commit()
    mine = _get(client, "/api/v1/performance/cases", token, figure="opened", **WEEK).get_json()
    assert [r["id"] for r in mine["data"]["rows"]] == [history.cases["elsewhere"].id]
    text = _get(client, "/api/v1/performance/export/cases.csv", token, **WEEK).get_data(
        as_text=True
    )
    assert history.cases["on_time"].tracking_number not in text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-11-09", "to": "2026-11-02"}, "from"),
        ({"from": "2024-01-01", "to": "2026-11-08"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"surprise": "1"}, "surprise"),
    ],
)
def test_a_bad_period_is_a_clear_400(
    client: FlaskClient, staff: Staff, params: dict[str, str], field: str
) -> None:
    for route in ROUTES:
        response = _get(client, route, staff.supervisor_token, **params)
        assert response.status_code == 400, (route, response.get_data(as_text=True))
        assert field in response.get_json()["error"].get("fields", {}), response.get_json()


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("/api/v1/performance/cases", {"figure": "everything"}),
        ("/api/v1/performance/cases", {"figure": "opened", "queue": "phones"}),
        ("/api/v1/performance/cases", {"figure": "opened", "page": "0"}),
        ("/api/v1/performance/dashboard", {"grain": "fortnight"}),
        ("/api/v1/performance/dashboard", {"queue": "phones"}),
        ("/api/v1/performance/dashboard", {"channel": "pigeon"}),
        ("/api/v1/performance/dashboard", {"grain": "15min", "from": "2026-01-01"}),
        ("/api/v1/performance/scorecard", {"dimension": "mood"}),
    ],
)
def test_bad_filters_are_a_clear_400(
    client: FlaskClient, staff: Staff, route: str, params: dict[str, str]
) -> None:
    response = _get(client, route, staff.supervisor_token, **{**WEEK, **params})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["message"]


def test_the_drilldown_lists_the_records_behind_each_figure(
    client: FlaskClient, history: History
) -> None:
    for figure, expected in EXPECTED.items():
        response = _get(
            client,
            "/api/v1/performance/cases",
            history.supervisor_token,
            figure=figure,
            per_page="100",
            **WEEK,
        )
        data = response.get_json()["data"]
        assert data["total"] == len(expected), figure
        assert data["definition"] == FIGURES[figure]
        sources = {"case": history.cases, "contact": history.work, "call": history.calls}
        names = {
            (kind, record.id): name
            for kind, found in sources.items()
            for name, record in found.items()
        }
        assert {names[(r["kind"], r["id"])] for r in data["rows"]} == expected, figure


def test_the_drilldown_filters_by_ids(client: FlaskClient, history: History) -> None:
    data = _get(
        client,
        "/api/v1/performance/cases",
        history.supervisor_token,
        figure="answered",
        queue=str(history.queues["texts"].id),
        **WEEK,
    ).get_json()["data"]
    assert [r["id"] for r in data["rows"]] == [history.work["sms_late_for_its_queue"].id]
    assert data["rows"][0]["created_at"] == "2026-11-04T10:00:00-05:00"


def test_the_drilldown_narrows_to_an_interval(client: FlaskClient, history: History) -> None:
    def drill(**interval: str) -> Any:
        return _get(
            client,
            "/api/v1/performance/cases",
            history.supervisor_token,
            figure="offered",
            **interval,
            **WEEK,
        )

    hour = drill(start_at="2026-11-03T11:00:00-05:00", end_at="2026-11-03T17:00:00Z")
    assert hour.status_code == 200, hour.get_data(as_text=True)
    assert [r["id"] for r in hour.get_json()["data"]["rows"]] == [
        history.work["call_late_transferred"].id
    ]
    for bad in ({"start_at": "2026-11-03T11:00:00"}, {"end_at": "tomorrow"}):
        refused = drill(**bad)
        assert refused.status_code == 400, bad
        assert set(refused.get_json()["error"]["fields"]) == set(bad)


def test_every_drilldown_figure_can_be_asked_for() -> None:
    assert set(get_args(pv.Figure)) == set(FIGURES)


def _csv(client: FlaskClient, history: History, name: str) -> list[dict[str, str]]:
    response = _get(
        client, f"/api/v1/performance/export/{name}.csv", history.supervisor_token, **WEEK
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_exports_have_a_row_per_record_of_the_period(
    client: FlaskClient, history: History
) -> None:
    cases = _csv(client, history, "cases")
    assert tuple(cases[0]) == CASE_COLUMNS
    assert {r["tracking_number"] for r in cases} == {
        history.cases[k].tracking_number for k in EXPECTED["opened"]
    }
    contacts = _csv(client, history, "contacts")
    assert tuple(contacts[0]) == CONTACT_COLUMNS
    # The rows "offered" counts: no escalation, no first response parked for its chat.
    assert {int(r["contact_id"]) for r in contacts} == {
        history.work[k].id for k in EXPECTED["offered"]
    }
    interactions = _csv(client, history, "interactions")
    assert tuple(interactions[0]) == INTERACTION_COLUMNS
    assert len(interactions) == 3


def test_the_csv_export_defuses_formulas(
    client: FlaskClient, session: Session, history: History
) -> None:
    queue = history.queues["phones"]
    queue.code = "=cmd"
    queue.name = "@SUM(A1:A9)"
    session.commit()
    contacts = _csv(client, history, "contacts")
    assert {r["queue_code"] for r in contacts} >= {"'=cmd"}
    assert {r["queue"] for r in contacts} >= {"'@SUM(A1:A9)"}
    assert not any(v[:1] in "=+-@" for r in contacts for v in r.values() if v)


def test_the_dashboard_agrees_with_the_records_behind_its_figures(
    session: Session, history: History
) -> None:
    data = supervisor_dashboard(session, history.city, start=WEEK_START, end=WEEK_END)
    contacts = data["contacts"]["current"]["totals"]
    assert contacts["offered"] == len(EXPECTED["offered"])
    assert contacts["answered"] == len(EXPECTED["answered"])
    assert contacts["abandoned"] == len(EXPECTED["abandoned"])
    assert contacts["answered"] - contacts["answered_in_target"] == len(EXPECTED["answered_late"])
    assert contacts["callbacks_requested"] == len(EXPECTED["callbacks"])
    assert contacts["self_served"] == len(EXPECTED["self_served"])
    service = data["service"]["current"]
    for figure in ("opened", "closed", "sla_breached", "reopened", "duplicates", "backlog"):
        assert service[figure] == len(EXPECTED[figure]), figure
    assert service["closed_with_target"] - service["closed_on_time"] == len(EXPECTED["closed_late"])
    assert data["satisfaction"]["current"]["sent"] == len(EXPECTED["surveyed"])
    assert data["period"] == {"from": "2026-11-02", "to": "2026-11-08", "days": 7}
    assert data["previous_period"] == {"from": "2026-10-26", "to": "2026-11-01", "days": 7}
    assert data["targets"]["voice"] == {"seconds": 20, "percent": 80}
    assert {"contacts", "agents", "service", "drilldown"} <= set(data["definitions"])
    assert any(a["name"] == "Alex Agent" for a in data["agents"])


def test_the_scorecard_compares_departments_with_the_previous_period(
    session: Session, history: History
) -> None:
    data = director_scorecard(session, history.city, start=WEEK_START, end=WEEK_END)
    rows = {r["label"]: r for r in data["rows"]}
    public_works = rows["Public Works"]
    assert public_works["current"]["opened"] == 2
    assert public_works["current"]["closed"] == 2
    assert public_works["current"]["reopened"] == 1
    assert public_works["previous"] is None or public_works["previous"]["opened"] == 0
    assert data["targets"]["target_days"] == {"pothole": 5.0, "missed-pickup": 2.0}
    assert data["contacts"]["current"]["offered"] == len(EXPECTED["offered"])


def test_the_dashboard_costs_the_same_statements_whatever_the_volume(
    session: Session, history: History, count_queries: Any
) -> None:
    def statements() -> int:
        with count_queries() as counter:
            supervisor_dashboard(session, history.city, start=WEEK_START, end=WEEK_END)
            director_scorecard(session, history.city, start=WEEK_START, end=WEEK_END)
        session.rollback()
        return counter.count

    few = statements()
    with count_queries() as alone:
        supervisor_dashboard(session, history.city, start=WEEK_START, end=WEEK_END)
    session.rollback()
    # The jurisdiction (expired by the rollback), the queues, the contacts of each period (2
    # each), the agents (2), the service totals of each period (2 each), the surveys (1).
    assert alone.count <= 13, alone.statements
    phones = history.queues["phones"]
    for n in range(30):
        case = _case(session, history.city, local(2 + n % 7, 9 + n % 8))
        _work(
            session,
            history.city,
            phones,
            local(2 + n % 7, 9 + n % 8),
            kind=WorkKind.CALL,
            wait=n,
            handle=60,
            case=case,
            agent_id=history.agent_id,
            state=WorkState.COMPLETED if n % 2 else None,
        )
        factories.make_agent(session, [history.city], name=f"Extra {n}")
    session.commit()
    rebuild_contact_rollups(session, history.city.id)
    session.commit()
    assert statements() == few
    assert session.scalar(sa.select(sa.func.count()).select_from(sa.table("work_items"))) > 30
