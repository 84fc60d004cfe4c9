"""SLA clocks on a business calendar: due times, warnings, breaches, pauses, escalation."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import Awaiting, Case, CaseEvent, CaseStatus, Priority
from contactcenter.cases.service import change_status, resident_replied, wait_on_resident
from contactcenter.db import get_db
from contactcenter.routing.admin import save_calendar, save_rule_set, save_sla_policy
from contactcenter.routing.models import Offer, WorkItem, WorkKind, WorkState
from contactcenter.routing.service import route_case
from contactcenter.routing.tick import run_tick
from contactcenter.routing.work import accept_offer, dispatch
from contactcenter.sla.clock import (
    check_clocks,
    pause_clock,
    record_first_response,
    resume_clock,
)
from contactcenter.sla.models import CaseClock
from tests.factories import make_agent, make_available_agent, make_case, make_queue

TORONTO = ZoneInfo("America/Toronto")
FRIDAY_4_30_PM = dt.datetime(2026, 11, 27, 16, 30, tzinfo=TORONTO)


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def office(session: Session, jurisdiction):
    """Weekdays 9-17 in Toronto; first response in 60 business minutes, resolution in 2 days."""
    general = make_queue(session, jurisdiction, "general", is_default=True)
    supervisors = make_queue(session, jurisdiction, "supervisors", is_supervisor=True)
    hours = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    save_calendar(session, jurisdiction, "office", name="Office", config={"hours": hours})
    save_sla_policy(
        session,
        jurisdiction,
        "standard",
        name="Standard",
        calendar="office",
        first_response_minutes=60,
        resolution_minutes=2 * 8 * 60,
        warn_percent=75,
        escalate_queue="supervisors",
        escalate_priority="high",
        is_default=True,
    )
    session.commit()
    return general, supervisors


def _route(session: Session, jurisdiction, at: dt.datetime, **fields) -> Case:
    case = make_case(session, jurisdiction, **fields)
    case.created_at = at
    route_case(session, case, now=at)
    session.commit()
    return case


def _events(session: Session, case: Case, kind: str) -> list[CaseEvent]:
    return list(
        session.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)
            .order_by(CaseEvent.id)
        )
    )


def test_due_times_count_business_hours_only(session, jurisdiction, office):
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    clock = session.get_one(CaseClock, case.id)
    monday = dt.datetime(2026, 11, 30, tzinfo=TORONTO)
    assert clock.first_response_due_at == monday.replace(hour=9, minute=30)
    assert clock.first_response_warn_at == monday.replace(hour=9, minute=15)
    assert clock.resolution_due_at == dt.datetime(2026, 12, 1, 16, 30, tzinfo=TORONTO)
    assert case.due_at == clock.resolution_due_at
    assert _events(session, case, "sla_started")[0].data["policy"] == "standard"


def test_warning_then_breach_are_raised_once_each(session, jurisdiction, office):
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    monday = dt.datetime(2026, 11, 30, tzinfo=TORONTO)
    assert check_clocks(session, monday.replace(hour=9, minute=10)) == set()
    check_clocks(session, monday.replace(hour=9, minute=16))
    check_clocks(session, monday.replace(hour=9, minute=20))
    session.commit()
    assert [e.data["stage"] for e in _events(session, case, "sla_warning")] == ["first_response"]
    assert _events(session, case, "sla_breached") == []
    check_clocks(session, monday.replace(hour=9, minute=31))
    check_clocks(session, monday.replace(hour=9, minute=45))
    session.commit()
    assert [e.data["stage"] for e in _events(session, case, "sla_breached")] == ["first_response"]


def test_a_breach_moves_waiting_work_to_the_supervisors_and_raises_priority(
    session, jurisdiction, office
):
    _general, supervisors = office
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    breach = dt.datetime(2026, 11, 30, 9, 31, tzinfo=TORONTO)
    assert run_tick(session, breach) == {jurisdiction.id}
    session.commit()
    item = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case.id)).one()
    assert (item.queue_id, item.state) == (supervisors.id, WorkState.WAITING)
    session.refresh(case)
    assert case.priority == Priority.HIGH
    assert _events(session, case, "escalated")[0].data["stage"] == "first_response"


def test_a_breach_on_assigned_work_notifies_the_supervisor_queue(session, jurisdiction, office):
    general, supervisors = office
    agent, _ = make_available_agent(session, jurisdiction, [general])
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    dispatch(session, jurisdiction.id, FRIDAY_4_30_PM)  # inline mode has dispatched already
    offer = session.scalars(sa.select(Offer)).one()
    accept_offer(session, offer.id, agent, now=FRIDAY_4_30_PM + dt.timedelta(seconds=5))
    session.commit()
    run_tick(session, dt.datetime(2026, 11, 30, 9, 31, tzinfo=TORONTO))
    session.commit()
    kinds = {
        (w.kind, w.queue_id, w.state)
        for w in session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case.id))
    }
    assert (WorkKind.ESCALATION, supervisors.id, WorkState.WAITING) in kinds
    assert (WorkKind.FIRST_RESPONSE, general.id, WorkState.ASSIGNED) in kinds


def test_an_agents_reply_stops_the_first_response_clock(session, jurisdiction, office):
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    record_first_response(session, case, now=dt.datetime(2026, 11, 30, 9, 5, tzinfo=TORONTO))
    session.commit()
    check_clocks(session, dt.datetime(2026, 11, 30, 10, 0, tzinfo=TORONTO))
    session.commit()
    assert _events(session, case, "sla_breached") == []
    assert _events(session, case, "first_response")[0].data["on_time"] is True
    clock = session.get_one(CaseClock, case.id)
    assert clock.next_check_at == clock.resolution_warn_at


def test_waiting_on_the_resident_pauses_the_clock(session, jurisdiction, office):
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    monday_9 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=TORONTO)
    clock = session.get_one(CaseClock, case.id)
    assert clock.resolution_due_at == dt.datetime(2026, 12, 1, 16, 30, tzinfo=TORONTO)
    pause_clock(session, case, now=monday_9)
    session.commit()
    assert clock.next_check_at is None
    assert check_clocks(session, monday_9 + dt.timedelta(days=3)) == set()
    resume_clock(session, case, now=monday_9 + dt.timedelta(hours=2))
    session.commit()
    # Two business hours later: past Tuesday's 17:00 close, so Wednesday 10:30.
    assert clock.resolution_due_at == dt.datetime(2026, 12, 2, 10, 30, tzinfo=TORONTO)


def test_the_resident_answering_resumes_a_case_waiting_on_them(session, jurisdiction, office):
    case = _route(session, jurisdiction, dt.datetime.now(dt.UTC))
    agent, _ = make_agent(session, [jurisdiction])
    wait_on_resident(session, case, agent=agent)
    session.commit()
    clock = session.get_one(CaseClock, case.id)
    assert clock.paused_at is not None and clock.next_check_at is None
    resident_replied(session, case)
    session.commit()
    assert clock.paused_at is None and clock.next_check_at is not None
    assert case.awaiting is None


def test_resolving_stops_the_clock_and_reopening_resumes_it(session, jurisdiction, office):
    case = _route(session, jurisdiction, dt.datetime.now(dt.UTC))
    change_status(session, case, CaseStatus.RESOLVED, agent=None)
    session.commit()
    clock = session.get_one(CaseClock, case.id)
    assert clock.stopped_at is not None and clock.next_check_at is None
    assert _events(session, case, "sla_stopped")[0].data["on_time"] is True
    change_status(session, case, CaseStatus.OPEN, agent=None)
    session.commit()
    assert clock.stopped_at is None and clock.next_check_at is not None


def test_a_case_still_missing_its_location_starts_paused(session, jurisdiction, office):
    case = _route(session, jurisdiction, dt.datetime.now(dt.UTC), awaiting=Awaiting.LOCATION)
    clock = session.get_one(CaseClock, case.id)
    assert clock.paused_at is not None


def test_the_rule_chooses_the_sla_policy(session, jurisdiction, office):
    save_sla_policy(session, jurisdiction, "urgent", name="Urgent", first_response_minutes=15)
    save_rule_set(
        session,
        jurisdiction,
        {"rules": [{"name": "Leaks", "when": {"keywords": ["leak"]}, "then": {"sla": "urgent"}}]},
        None,
    )
    session.commit()
    saturday = dt.datetime(2026, 11, 28, 3, 0, tzinfo=TORONTO)
    case = _route(session, jurisdiction, saturday, description="Water leak on Bank St")
    clock = session.get_one(CaseClock, case.id)
    assert clock.first_response_due_at == saturday + dt.timedelta(minutes=15)


def test_two_workers_checking_at_once_raise_each_breach_once(app, session, jurisdiction, office):
    if get_db(app).engine.dialect.name != "postgresql":
        pytest.skip("row locks that skip are a PostgreSQL feature; SQLite has one writer")
    cases = [_route(session, jurisdiction, FRIDAY_4_30_PM) for _ in range(40)]
    breach = dt.datetime(2026, 11, 30, 9, 31, tzinfo=TORONTO)
    barrier = threading.Barrier(4)

    def worker() -> None:
        with app.app_context(), get_db(app).session() as own:
            barrier.wait()
            run_tick(own, breach)
            own.commit()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for case in cases:
        assert len(_events(session, case, "sla_breached")) == 1
        assert len(_events(session, case, "escalated")) == 1


def test_a_breach_during_an_accept_waits_for_the_next_tick_and_leaves_the_work_with_the_agent(
    app, session, jurisdiction, office
):
    """The tick comes while an agent's accept is still open: it skips the case the accept
    holds (never waiting for it), and the next tick escalates: the accept wins, and the
    supervisors get an escalation item instead of the agent's work."""
    if get_db(app).engine.dialect.name != "postgresql":
        pytest.skip("needs two writers at once; SQLite has one")
    general, supervisors = office
    agent, _ = make_available_agent(session, jurisdiction, [general])
    case = _route(session, jurisdiction, FRIDAY_4_30_PM)
    dispatch(session, jurisdiction.id)
    session.commit()
    offer = session.scalars(sa.select(Offer)).one()
    db = get_db(app)
    breach = dt.datetime(2026, 11, 30, 9, 31, tzinfo=TORONTO)
    accepting = db.session()
    accept_offer(accepting, offer.id, accepting.get_one(type(agent), agent.id))
    result: dict[str, object] = {}

    def tick() -> None:
        with app.app_context(), db.session() as own:
            result["touched"] = check_clocks(own, breach)
            own.commit()

    thread = threading.Thread(target=tick)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()  # it did not wait for the accept
    assert result["touched"] == set()
    assert _events(session, case, "sla_breached") == []
    accepting.commit()
    accepting.close()
    with app.app_context(), db.session() as own:
        assert check_clocks(own, breach) == {jurisdiction.id}
        own.commit()
    session.expire_all()
    items = {
        w.kind: w for w in session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case.id))
    }
    first = items[WorkKind.FIRST_RESPONSE]
    assert (first.state, first.agent_id, first.queue_id) == (
        WorkState.ASSIGNED,
        agent.id,
        general.id,
    )
    assert items[WorkKind.ESCALATION].queue_id == supervisors.id
    assert len(_events(session, case, "sla_breached")) == 1
