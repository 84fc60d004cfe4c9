"""Transferring a case: to another queue (its work waits there again) or to one agent.

A transfer moves the case's live first-response work, not a copy of it: the unique index on
live work per case and kind keeps one piece of work, and whoever held it or was offered it
lets go. Every move is conditional on the item's state, like the rest of the queue.

A case in a live web chat has its chat work instead (its first response is parked while the
chat lasts): that is what moves, and the chat follows it, so one resident is never waited
for in two places.

Each transfer counts on the work that moved (``WorkItem.transfers``), or on the new work a
transfer of an already-answered case creates, so transferred work never counts as resolved on
first contact. A supervisor's reassignment (:mod:`contactcenter.routing.reassign`) and a
queue's overflow to its next target are the floor's own moves, not transfers.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case
from contactcenter.chats.service import chat_work_moved
from contactcenter.db import utcnow
from contactcenter.errors import Conflict, Invalid
from contactcenter.realtime import OFFER_GONE, notify_agent_after_commit
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    PRIORITY_RANK,
    Offer,
    OfferState,
    Queue,
    WorkItem,
    WorkKind,
    WorkState,
)
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.work import Target, enqueue_work, ensure_can_take_live


def transfer_case(
    session: Session,
    case: Case,
    agent: Agent,
    *,
    queue: Queue | None = None,
    to_agent: Agent | None = None,
    now: dt.datetime | None = None,
) -> WorkItem | None:
    """Send ``case`` to ``queue`` or ``to_agent`` (exactly one); returns the work that moved.

    :raises Invalid: neither or both, or a queue or agent of another jurisdiction.
    :raises Conflict: the case is resolved or closed; ``agent_not_available``: its live chat
        would go to an agent who is not signed in or has no room for it.
    """
    if (queue is None) == (to_agent is None):
        raise Invalid("Choose a queue or an agent.", code="transfer_target_required")
    _lock_case(session, case)
    if not case.is_open:
        raise Conflict(f"A {case.status} case cannot be transferred.", code="case_not_open")
    now = now or utcnow()
    if queue is not None:
        if queue.jurisdiction_id != case.jurisdiction_id:
            raise Invalid("Choose a queue of this city.", code="foreign_queue")
        return _to_queue(session, case, agent, queue, now)
    assert to_agent is not None
    if not to_agent.active or case.jurisdiction_id not in {j.id for j in to_agent.jurisdictions}:
        raise Invalid("Choose an agent of this city.", code="foreign_agent")
    return _to_agent(session, case, agent, to_agent, now)


def _to_queue(
    session: Session, case: Case, agent: Agent, queue: Queue, now: dt.datetime
) -> WorkItem:
    item = _live_work(session, case)
    previous = _holder(item) if item is not None else _case_holder(case)
    if item is None:
        item = _new_work(session, case, queue, now)
    else:
        _withdraw_offers(session, item, now)
        item.queue_id = queue.id
        item.state = WorkState.WAITING
        item.agent_id = None
        item.assigned_at = None
        item.targets = [[queue.id, None]]
        item.target_index = 0
        item.target_started_at = now  # earlier refusals were for another queue
        item.target_deadline_at = None
    _count_transfer(item)
    case.assigned_agent_id = None
    case.updated_at = now
    session.flush()
    chat_work_moved(session, item, now)
    record_event(
        session,
        case,
        "transferred",
        agent=agent,
        old=previous,
        new=f"queue {queue.name}",
        to_queue=queue.code,
        work_item=item.id,
    )
    schedule_dispatch(session, [case.jurisdiction_id])
    return item


def _to_agent(
    session: Session, case: Case, agent: Agent, to_agent: Agent, now: dt.datetime
) -> WorkItem | None:
    item = _live_work(session, case)
    previous = _holder(item) if item is not None else _case_holder(case)
    if item is None:
        queue_id = session.scalar(
            sa.select(Queue.id).where(
                Queue.jurisdiction_id == case.jurisdiction_id, Queue.is_default.is_(True)
            )
        )
        if queue_id is not None:
            item = _new_work(session, case, session.get_one(Queue, queue_id), now)
    if item is not None:
        ensure_can_take_live(session, item, to_agent)
        _withdraw_offers(session, item, now)
        _count_transfer(item)
        item.state = WorkState.ASSIGNED
        item.agent_id = to_agent.id
        item.assigned_at = now
        if item.first_assigned_at is None:  # work nobody had answered yet is answered now
            item.first_assigned_at = now
        item.target_deadline_at = None
    case.assigned_agent_id = to_agent.id
    case.updated_at = now
    to_agent.last_assigned_at = now
    session.flush()
    if item is not None:
        chat_work_moved(session, item, now)
    record_event(
        session,
        case,
        "transferred",
        agent=agent,
        old=previous,
        new=to_agent.name,
        to_agent_id=to_agent.id,
        work_item=item.id if item is not None else None,
    )
    return item


def _lock_case(session: Session, case: Case) -> None:
    """Hold the case before its work (PostgreSQL), the one order everyone takes: case, work
    item, offer, chat. The console has usually locked it already; taking it again is free."""
    if case.id is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(Case.id).where(Case.id == case.id).with_for_update())


def _live_work(session: Session, case: Case) -> WorkItem | None:
    """The case's live chat work if it has some, else its live first-response work."""
    query = (
        sa.select(WorkItem)
        .where(
            WorkItem.case_id == case.id,
            WorkItem.kind.in_((WorkKind.CHAT, WorkKind.FIRST_RESPONSE)),
            WorkItem.state.in_(LIVE_WORK_STATES),
        )
        .order_by(WorkItem.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # item before its offers, as everywhere else
    items = session.scalars(query).all()
    return next((i for i in items if i.kind == WorkKind.CHAT), items[0] if items else None)


def _count_transfer(item: WorkItem) -> None:
    """One more transfer, added by the database in the flush (not read, then written)."""
    item.transfers = WorkItem.transfers + 1  # type: ignore[assignment]


def _new_work(session: Session, case: Case, queue: Queue, now: dt.datetime) -> WorkItem:
    """Work for a case that had none live (already answered): the transfer asks for a person."""
    item = enqueue_work(
        session,
        jurisdiction_id=case.jurisdiction_id,
        case=case,
        kind=WorkKind.FIRST_RESPONSE,
        channel=case.origin_channel,
        targets=[Target(queue.id, None)],
        priority=PRIORITY_RANK[case.priority],
        now=now,
    )
    session.flush()
    return item


def _withdraw_offers(session: Session, item: WorkItem, now: dt.datetime) -> None:
    withdrawn = session.execute(
        sa.update(Offer)
        .where(Offer.work_item_id == item.id, Offer.state == OfferState.PENDING)
        .values(state=OfferState.CANCELLED, answered_at=now)
        .returning(Offer.id, Offer.agent_id)
        .execution_options(synchronize_session=False)
    ).all()
    for offer_id, agent_id in withdrawn:
        notify_agent_after_commit(session, agent_id, OFFER_GONE, {"offer_id": offer_id})


def _holder(item: WorkItem) -> str:
    """Where the work was, in words for the timeline."""
    if item.state == WorkState.ASSIGNED and item.agent is not None:
        return item.agent.name
    return f"queue {item.queue.name}"


def _case_holder(case: Case) -> str:
    return case.assigned_agent.name if case.assigned_agent is not None else "nobody"
