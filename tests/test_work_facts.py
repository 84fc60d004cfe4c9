"""The facts the performance figures read, recorded as work happens: transfers, first-contact
resolution, reopens and SLA breaches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.cases.service import change_status
from contactcenter.db import utcnow
from contactcenter.routing.admin import save_sla_policy
from contactcenter.routing.models import Offer, OfferState, WorkItem, WorkKind, WorkState
from contactcenter.routing.service import route_case
from contactcenter.routing.transfer import transfer_case
from contactcenter.routing.work import WRAP_UP_WINDOW, accept_offer, claim_next, complete_work
from contactcenter.sla.clock import check_clocks
from tests.factories import make_available_agent, make_case, make_queue, make_work

TORONTO = ZoneInfo("America/Toronto")


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def floor(session: Session, jurisdiction):
    """Two queues and two available agents in both."""
    general = make_queue(session, jurisdiction, "general", is_default=True)
    roads = make_queue(session, jurisdiction, "roads")
    ann, _ = make_available_agent(session, jurisdiction, [general, roads], name="Ann")
    bob, _ = make_available_agent(session, jurisdiction, [general, roads], name="Bob")
    session.commit()
    return general, roads, ann, bob


def _taken(session: Session, jurisdiction, queue, agent) -> WorkItem:
    """A new case's first-response work, taken by ``agent``."""
    item = make_work(session, jurisdiction, queue)
    session.commit()
    assert claim_next(session, agent) is not None
    session.commit()
    session.refresh(item)
    assert item.agent_id == agent.id
    return item


def _fresh(session: Session, item: WorkItem) -> WorkItem:
    session.expire_all()
    return session.get_one(WorkItem, item.id)


def test_each_transfer_to_a_queue_or_an_agent_counts_on_the_work(session, jurisdiction, floor):
    general, roads, ann, bob = floor
    item = _taken(session, jurisdiction, general, ann)
    assert item.transfers == 0

    transfer_case(session, item.case, ann, queue=roads)
    session.commit()
    assert _fresh(session, item).transfers == 1

    transfer_case(session, session.get_one(Case, item.case_id), ann, to_agent=bob)
    session.commit()
    item = _fresh(session, item)
    assert (item.transfers, item.agent_id, item.state) == (2, bob.id, WorkState.ASSIGNED)


def test_the_first_answer_is_kept_through_transfers_and_later_takes(session, jurisdiction, floor):
    general, roads, ann, bob = floor
    item = _taken(session, jurisdiction, general, ann)
    first = item.first_assigned_at
    assert first is not None and first == item.assigned_at

    transfer_case(session, item.case, ann, queue=roads)
    session.commit()
    moved = _fresh(session, item)
    assert (moved.assigned_at, moved.first_assigned_at) == (None, first)

    # Taken again, by an offer when the dispatch already made one, else by a pull.
    offer = session.scalars(
        sa.select(Offer).where(Offer.work_item_id == item.id, Offer.state == OfferState.PENDING)
    ).one_or_none()
    if offer is not None:
        accept_offer(session, offer.id, session.get_one(Agent, offer.agent_id))
    else:
        assert claim_next(session, bob) is not None
    session.commit()
    moved = _fresh(session, item)
    assert moved.assigned_at is not None and moved.assigned_at > first
    assert moved.first_assigned_at == first


def test_work_given_straight_to_an_agent_is_answered_then(session, jurisdiction, floor):
    general, _roads, ann, bob = floor
    item = make_work(session, jurisdiction, general)
    session.commit()
    transfer_case(session, item.case, ann, to_agent=bob)
    session.commit()
    item = _fresh(session, item)
    assert item.first_assigned_at is not None and item.first_assigned_at == item.assigned_at


def test_transferring_an_answered_case_counts_on_the_new_work(session, jurisdiction, floor):
    general, roads, ann, _bob = floor
    item = _taken(session, jurisdiction, general, ann)
    complete_work(session, item.id, ann)
    session.commit()

    moved = transfer_case(session, item.case, ann, queue=roads)
    session.commit()
    assert moved is not None and moved.id != item.id
    assert _fresh(session, moved).transfers == 1
    assert _fresh(session, item).transfers == 0


def test_resolving_the_case_while_holding_its_work_resolves_it_on_contact(
    session, jurisdiction, floor
):
    general, _roads, ann, _bob = floor
    item = _taken(session, jurisdiction, general, ann)
    change_status(session, item.case, CaseStatus.RESOLVED, agent=ann)
    session.commit()
    item = _fresh(session, item)
    assert (item.state, item.resolved_on_contact) == (WorkState.COMPLETED, True)


def test_work_finished_on_an_open_case_is_not_resolved_on_contact(session, jurisdiction, floor):
    general, _roads, ann, _bob = floor
    item = _taken(session, jurisdiction, general, ann)
    complete_work(session, item.id, ann)
    session.commit()
    assert _fresh(session, item).resolved_on_contact is False


def test_resolving_in_the_wrap_up_after_finishing_the_contact_counts(session, jurisdiction, floor):
    general, _roads, ann, _bob = floor
    item = _taken(session, jurisdiction, general, ann)
    complete_work(session, item.id, ann)  # the call ended; the agent writes it up
    session.commit()
    change_status(session, item.case, CaseStatus.CLOSED, agent=ann)
    session.commit()
    assert _fresh(session, item).resolved_on_contact is True


def test_resolving_long_after_the_contact_or_by_someone_else_does_not_count(
    session, jurisdiction, floor
):
    general, _roads, ann, bob = floor
    late = _taken(session, jurisdiction, general, ann)
    complete_work(session, late.id, ann, now=utcnow() - WRAP_UP_WINDOW - dt.timedelta(minutes=1))
    other = _taken(session, jurisdiction, general, ann)
    complete_work(session, other.id, ann)
    session.commit()

    change_status(session, late.case, CaseStatus.RESOLVED, agent=ann)
    change_status(session, other.case, CaseStatus.RESOLVED, agent=bob)
    session.commit()
    assert _fresh(session, late).resolved_on_contact is False
    assert _fresh(session, other).resolved_on_contact is False


def test_transferred_work_is_never_resolved_on_contact(session, jurisdiction, floor):
    general, _roads, ann, bob = floor
    item = _taken(session, jurisdiction, general, ann)
    transfer_case(session, item.case, ann, to_agent=bob)
    session.commit()
    change_status(session, session.get_one(Case, item.case_id), CaseStatus.RESOLVED, agent=bob)
    session.commit()
    item = _fresh(session, item)
    assert (item.state, item.transfers, item.resolved_on_contact) == (
        WorkState.COMPLETED,
        1,
        False,
    )


def test_waiting_work_ended_by_the_resolution_was_not_handled_and_is_not_resolved(
    session, jurisdiction, floor
):
    general, _roads, ann, _bob = floor
    waiting = make_work(session, jurisdiction, general)
    session.commit()
    change_status(session, waiting.case, CaseStatus.RESOLVED, agent=ann)
    session.commit()
    waiting = _fresh(session, waiting)
    assert (waiting.state, waiting.resolved_on_contact) == (WorkState.CANCELLED, False)


def test_a_reopen_counts_and_takes_back_the_first_contact_resolution(session, jurisdiction, floor):
    general, _roads, ann, _bob = floor
    item = _taken(session, jurisdiction, general, ann)
    case = item.case
    change_status(session, case, CaseStatus.RESOLVED, agent=ann)
    session.commit()
    assert _fresh(session, item).resolved_on_contact is True

    case = session.get_one(Case, item.case_id)
    change_status(session, case, CaseStatus.OPEN, agent=ann)
    session.commit()
    assert _fresh(session, item).resolved_on_contact is False
    case = session.get_one(Case, item.case_id)
    assert case.reopened_count == 1

    change_status(session, case, CaseStatus.CLOSED, agent=None)
    change_status(session, case, CaseStatus.OPEN, agent=ann)
    change_status(session, case, CaseStatus.IN_PROGRESS, agent=ann)  # not a reopen
    session.commit()
    session.expire_all()
    assert session.get_one(Case, item.case_id).reopened_count == 2


def test_a_status_change_between_open_states_is_not_a_reopen(session, jurisdiction):
    case = make_case(session, jurisdiction, status=CaseStatus.OPEN)
    change_status(session, case, CaseStatus.IN_PROGRESS, agent=None)
    change_status(session, case, CaseStatus.OPEN, agent=None)
    session.commit()
    assert case.reopened_count == 0


def test_an_sla_breach_marks_the_case_for_good(session, jurisdiction):
    make_queue(session, jurisdiction, "general", is_default=True)
    make_queue(session, jurisdiction, "supervisors", is_supervisor=True)
    save_sla_policy(
        session,
        jurisdiction,
        "standard",
        name="Standard",
        calendar=None,
        first_response_minutes=60,
        resolution_minutes=600,
        warn_percent=75,
        escalate_queue="supervisors",
        escalate_priority="high",
        is_default=True,
    )
    start = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TORONTO)
    case = make_case(session, jurisdiction)
    case.created_at = start
    route_case(session, case, now=start)
    session.commit()

    check_clocks(session, start + dt.timedelta(minutes=50))  # a warning only
    session.commit()
    assert session.get_one(Case, case.id).sla_breached is False
    check_clocks(session, start + dt.timedelta(minutes=61))
    session.commit()
    assert session.get_one(Case, case.id).sla_breached is True

    change_status(session, case, CaseStatus.RESOLVED, agent=None)
    session.commit()
    session.expire_all()
    assert session.get_one(Case, case.id).sla_breached is True


def test_an_escalation_is_not_a_contact_and_never_resolved_on_contact(session, jurisdiction, floor):
    general, _roads, ann, _bob = floor
    item = make_work(session, jurisdiction, general)
    item.kind = WorkKind.ESCALATION
    session.commit()
    assert claim_next(session, ann) is not None
    change_status(session, item.case, CaseStatus.RESOLVED, agent=ann)
    session.commit()
    item = _fresh(session, item)
    assert (item.state, item.resolved_on_contact) == (WorkState.COMPLETED, False)
