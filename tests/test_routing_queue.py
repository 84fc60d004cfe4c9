"""The waiting queue: who is offered what, accept/decline/timeout, capacity, strategies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.agents.models import Presence, PresenceChange
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.cases.service import change_status
from contactcenter.db import utcnow
from contactcenter.errors import Conflict, NotFound
from contactcenter.messages import Channel
from contactcenter.routing.models import Offer, OfferState, Strategy, WorkItem, WorkState
from contactcenter.routing.presence import set_presence
from contactcenter.routing.tick import run_tick
from contactcenter.routing.work import (
    Target,
    accept_offer,
    claim_next,
    complete_work,
    decline_offer,
    dispatch,
)
from tests.factories import make_available_agent, make_queue, make_work


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    """Commits here may queue dispatch jobs, which need the application."""
    with app.app_context():
        yield


def _offers(session: Session, **where: object) -> list[Offer]:
    query = sa.select(Offer).order_by(Offer.id)
    for key, value in where.items():
        query = query.where(getattr(Offer, key) == value)
    return list(session.scalars(query))


def _dispatch(
    session: Session, jurisdiction_id: int, now: dt.datetime | None = None
) -> list[Offer]:
    offers = dispatch(session, jurisdiction_id, now)
    session.commit()
    return offers


def test_an_empty_queue_offers_nothing(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    make_available_agent(session, jurisdiction, [queue])
    session.commit()
    assert _dispatch(session, jurisdiction.id) == []


def test_work_waits_while_every_agent_is_away(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue], presence=Presence.AWAY)
    item = make_work(session, jurisdiction, queue)
    session.commit()
    assert _dispatch(session, jurisdiction.id) == []
    session.refresh(item)
    assert item.state == WorkState.WAITING

    set_presence(session, agent, Presence.AVAILABLE)
    session.commit()
    dispatch(session, jurisdiction.id)
    session.commit()
    (offer,) = _offers(session)
    assert offer.agent_id == agent.id and offer.work_item_id == item.id


def test_most_urgent_then_oldest_work_is_offered_first(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    _agent, _ = make_available_agent(session, jurisdiction, [queue], capacity={"sms": 1})
    now = utcnow()
    old_normal = make_work(session, jurisdiction, queue, created_at=now - dt.timedelta(hours=2))
    new_urgent = make_work(session, jurisdiction, queue, priority=3, created_at=now)
    make_work(session, jurisdiction, queue, priority=3, created_at=now + dt.timedelta(seconds=1))
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    assert offer.work_item_id == new_urgent.id
    assert old_normal.state == WorkState.WAITING


def test_offers_go_only_to_agents_with_the_skills_and_language(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    make_available_agent(session, jurisdiction, [queue], skills=["gas"], languages=["en"])
    speaker, _ = make_available_agent(
        session, jurisdiction, [queue], skills=["gas"], languages=["en", "es"]
    )
    make_available_agent(session, jurisdiction, [queue], skills=[], languages=["es"])
    item = make_work(session, jurisdiction, queue, skills=("gas",), language="es")
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    assert (offer.work_item_id, offer.agent_id) == (item.id, speaker.id)


def test_agents_outside_the_queue_are_not_offered_its_work(session, jurisdiction):
    general = make_queue(session, jurisdiction, "general")
    streets = make_queue(session, jurisdiction, "streets")
    make_available_agent(session, jurisdiction, [general])
    make_work(session, jurisdiction, streets)
    session.commit()
    assert _dispatch(session, jurisdiction.id) == []


def test_capacity_is_per_channel(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue], capacity={"voice": 1, "sms": 3})
    for _ in range(2):
        make_work(session, jurisdiction, queue, channel=Channel.VOICE)
    for _ in range(5):
        make_work(session, jurisdiction, queue, channel=Channel.SMS)
    session.commit()
    offers = _dispatch(session, jurisdiction.id)
    channels = sorted(session.get(WorkItem, o.work_item_id).channel for o in offers)
    assert channels == [Channel.SMS, Channel.SMS, Channel.SMS, Channel.VOICE]
    assert all(o.agent_id == agent.id for o in offers)
    assert _dispatch(session, jurisdiction.id) == []


def test_longest_idle_agent_is_offered_first(session, jurisdiction):
    queue = make_queue(session, jurisdiction, strategy=Strategy.LONGEST_IDLE)
    busy, _ = make_available_agent(session, jurisdiction, [queue])
    idle, _ = make_available_agent(session, jurisdiction, [queue])
    now = utcnow()
    busy.last_assigned_at = now - dt.timedelta(minutes=1)
    idle.last_assigned_at = now - dt.timedelta(minutes=30)
    busy.presence_changed_at = idle.presence_changed_at = now - dt.timedelta(hours=1)
    first = make_work(session, jurisdiction, queue, created_at=now - dt.timedelta(seconds=2))
    second = make_work(session, jurisdiction, queue, created_at=now - dt.timedelta(seconds=1))
    session.commit()
    offers = {o.work_item_id: o.agent_id for o in _dispatch(session, jurisdiction.id)}
    assert offers == {first.id: idle.id, second.id: busy.id}


def test_least_busy_agent_is_offered_first(session, jurisdiction):
    queue = make_queue(session, jurisdiction, strategy=Strategy.LEAST_BUSY)
    loaded, _ = make_available_agent(session, jurisdiction, [queue])
    free, _ = make_available_agent(session, jurisdiction, [queue])
    for _ in range(2):
        make_work(session, jurisdiction, queue)
    session.commit()
    for offer in _dispatch(session, jurisdiction.id):
        agent = loaded if offer.agent_id == loaded.id else free
        accept_offer(session, offer.id, agent)
    session.commit()
    claimed = make_work(session, jurisdiction, queue)
    session.commit()
    assert sorted(
        w.agent_id for w in session.scalars(sa.select(WorkItem).where(WorkItem.state == "assigned"))
    ) == sorted([loaded.id, free.id])
    # Both hold one; give `loaded` a second, then the next goes to `free`.
    session.execute(
        sa.update(WorkItem)
        .where(WorkItem.id == claimed.id)
        .values(state=WorkState.ASSIGNED, agent_id=loaded.id)
    )
    nxt = make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    assert (offer.work_item_id, offer.agent_id) == (nxt.id, free.id)


def test_round_robin_takes_turns(session, jurisdiction):
    queue = make_queue(session, jurisdiction, strategy=Strategy.ROUND_ROBIN)
    agents = [make_available_agent(session, jurisdiction, [queue])[0] for _ in range(3)]
    now = utcnow()
    for i in range(4):
        make_work(session, jurisdiction, queue, created_at=now + dt.timedelta(seconds=i))
    session.commit()
    offers = _dispatch(session, jurisdiction.id)
    assert [o.agent_id for o in offers] == [a.id for a in [*agents, agents[0]]]


def test_accepting_assigns_the_case_once(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    item = make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    accepted = accept_offer(session, offer.id, agent)
    session.commit()
    assert accepted.state == WorkState.ASSIGNED and accepted.agent_id == agent.id
    session.refresh(item)
    assert item.agent_id == agent.id
    with pytest.raises(Conflict, match="no longer available"):
        accept_offer(session, offer.id, agent)


def test_an_expired_offer_cannot_be_accepted(session, jurisdiction):
    queue = make_queue(session, jurisdiction, offer_timeout_seconds=30)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    with pytest.raises(Conflict, match="expired"):
        accept_offer(session, offer.id, agent, now=utcnow() + dt.timedelta(seconds=31))


def test_another_agents_offer_is_not_found(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    make_available_agent(session, jurisdiction, [queue])
    other, _ = make_available_agent(session, jurisdiction, [], presence=Presence.OFFLINE)
    make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    with pytest.raises(NotFound):
        accept_offer(session, offer.id, other)


def test_a_declined_offer_goes_to_the_next_agent(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    first, _ = make_available_agent(session, jurisdiction, [queue])
    second, _ = make_available_agent(session, jurisdiction, [queue])
    session.commit()
    make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    decliner = first if offer.agent_id == first.id else second
    other = second if decliner is first else first
    decline_offer(session, offer.id, decliner)
    session.commit()
    (again,) = _dispatch(session, jurisdiction.id)
    assert again.agent_id == other.id
    decline_offer(session, again.id, other)
    session.commit()
    assert _dispatch(session, jurisdiction.id) == []
    # A refusal lapses after one offer timeout: work nobody else takes is offered again.
    later = utcnow() + dt.timedelta(seconds=queue.offer_timeout_seconds + 1)
    assert len(_dispatch(session, jurisdiction.id, later)) == 1


def test_work_whose_only_agent_missed_it_is_offered_again_when_they_are_back(session, jurisdiction):
    queue = make_queue(session, jurisdiction, offer_timeout_seconds=20)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()
    _dispatch(session, jurisdiction.id)
    later = utcnow() + dt.timedelta(seconds=21)
    run_tick(session, later)
    session.commit()
    session.refresh(agent)
    assert agent.presence == Presence.AWAY
    set_presence(session, agent, Presence.AVAILABLE, now=later + dt.timedelta(minutes=5))
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id, later + dt.timedelta(minutes=5))
    assert offer.agent_id == agent.id


def test_scheduling_a_dispatch_again_after_a_rollback_is_not_lost(session, jurisdiction):
    from contactcenter.jobs import is_pending
    from contactcenter.routing.scheduling import dispatch_job, schedule_dispatch

    schedule_dispatch(session, [jurisdiction.id])
    session.rollback()
    schedule_dispatch(session, [jurisdiction.id])
    assert is_pending(session, dispatch_job, jurisdiction.id)
    schedule_dispatch(session, [jurisdiction.id])
    assert sum(1 for j in session.info["pending_jobs"] if j.func is dispatch_job) == 1
    session.rollback()


def test_an_agents_reply_withdraws_the_first_response_work(session, jurisdiction):
    from contactcenter.sla.clock import record_first_response

    queue = make_queue(session, jurisdiction)
    make_available_agent(session, jurisdiction, [queue])
    item = make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    record_first_response(session, session.get_one(Case, item.case_id))
    session.commit()
    session.refresh(item)
    session.refresh(offer)
    assert (item.state, offer.state) == (WorkState.CANCELLED, OfferState.CANCELLED)


def test_an_unanswered_offer_times_out_and_goes_to_the_next_agent(session, jurisdiction):
    queue = make_queue(session, jurisdiction, offer_timeout_seconds=20)
    first, _ = make_available_agent(session, jurisdiction, [queue])
    _second, _ = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    later = utcnow() + dt.timedelta(seconds=21)
    touched = run_tick(session, later)
    session.commit()
    assert touched == {jurisdiction.id}
    session.refresh(offer)
    assert offer.state == OfferState.TIMED_OUT
    missed = session.get(type(first), offer.agent_id)
    assert missed.presence == Presence.AWAY
    change = session.scalars(
        sa.select(PresenceChange).where(PresenceChange.agent_id == missed.id)
    ).one()
    assert change.reason == "missed offer"
    (again,) = _dispatch(session, jurisdiction.id, later)
    assert again.agent_id != offer.agent_id


def test_work_moves_to_the_next_target_when_its_time_is_up(session, jurisdiction):
    first_line = make_queue(session, jurisdiction, "first")
    supervisors = make_queue(session, jurisdiction, "supervisors", is_supervisor=True)
    boss, _ = make_available_agent(session, jurisdiction, [supervisors])
    item = make_work(
        session,
        jurisdiction,
        first_line,
        targets=[Target(first_line.id, 120), Target(supervisors.id, None)],
    )
    session.commit()
    assert _dispatch(session, jurisdiction.id) == []
    assert run_tick(session, utcnow() + dt.timedelta(seconds=60)) == set()
    later = utcnow() + dt.timedelta(seconds=121)
    assert run_tick(session, later) == {jurisdiction.id}
    session.commit()
    session.refresh(item)
    assert (item.queue_id, item.target_index, item.target_deadline_at) == (supervisors.id, 1, None)
    (offer,) = _dispatch(session, jurisdiction.id, later)
    assert offer.agent_id == boss.id


def test_completing_work_frees_capacity(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue], capacity={"sms": 1})
    make_work(session, jurisdiction, queue)
    second = make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    item = accept_offer(session, offer.id, agent)
    session.commit()
    assert _dispatch(session, jurisdiction.id) == []
    complete_work(session, item.id, agent)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    assert offer.work_item_id == second.id
    with pytest.raises(Conflict):
        complete_work(session, item.id, agent)


def test_resolving_a_case_takes_its_work_out_of_the_queue(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    make_available_agent(session, jurisdiction, [queue])
    item = make_work(session, jurisdiction, queue)
    session.commit()
    (offer,) = _dispatch(session, jurisdiction.id)
    case = session.get_one(Case, item.case_id)
    change_status(session, case, CaseStatus.RESOLVED, agent=None)
    session.commit()
    session.refresh(item)
    session.refresh(offer)
    assert item.state == WorkState.CANCELLED
    assert offer.state == OfferState.CANCELLED


def test_claim_next_takes_the_most_urgent_item_the_agent_may_handle(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(
        session, jurisdiction, [queue], presence=Presence.BUSY, skills=[], languages=["en"]
    )
    make_work(session, jurisdiction, queue, priority=3, skills=("gas",))
    wanted = make_work(session, jurisdiction, queue, priority=2)
    make_work(session, jurisdiction, queue, priority=1)
    session.commit()
    taken = claim_next(session, agent)
    session.commit()
    assert taken is not None and taken.id == wanted.id and taken.agent_id == agent.id
