"""Calls waiting for an agent: a work item in the routing queue, a callback, a connection.

A caller who asks for an agent becomes a ``call`` work item in the routing engine, so calls
are offered to agents by the same rules as every other kind of work (skills, language,
capacity, presence). When an agent accepts, :func:`work_assigned` has the voice channel take
the call out of Twilio's queue and ring the agent. A caller who would rather be called back
keeps the same work item — and so their place in line.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence
from contactcenter.calls.control import CallControl, CallControlError
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.calls.service import get_call, is_hidden, set_outcome, start_call
from contactcenter.db import get_db, utcnow
from contactcenter.errors import NotFound
from contactcenter.jobs import enqueue_after_commit
from contactcenter.messages import Channel, Direction
from contactcenter.realtime import notify_supervisors_after_commit
from contactcenter.routing.context import context_for
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    Offer,
    OfferState,
    Queue,
    WorkItem,
    WorkKind,
    WorkState,
    agent_queues,
)
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.work import Target, complete_work, enqueue_work, withdraw_offers

log = logging.getLogger(__name__)

DEFAULT_HANDLE_SECONDS = 180
"""Assumed length of a call until a queue has answered calls to learn from."""
MAX_CALLBACK_ATTEMPTS = 3


def queue_code_id(session: Session, jurisdiction_id: int, code: str) -> int:
    """:raises NotFound: the menu names a queue the jurisdiction no longer has."""
    context = context_for(session, jurisdiction_id)
    queue_id = context.queue_ids.get(code) or context.default_queue_id
    if queue_id is None:
        raise NotFound(f"No queue {code!r}.", code="queue_not_found")
    return queue_id


def queue_call(
    session: Session, call: Call, *, queue_code: str, language: str, callback: bool = False
) -> WorkItem:
    """The caller waits for an agent (or, with ``callback``, to be called back).

    A retried webhook finds the work item its first delivery queued.
    """
    if call.work_item_id is not None:
        existing = session.get(WorkItem, call.work_item_id)
        if existing is not None and existing.state in LIVE_WORK_STATES:
            return existing
    now = utcnow()
    queue_id = queue_code_id(session, call.jurisdiction_id, queue_code)
    item = enqueue_work(
        session,
        jurisdiction_id=call.jurisdiction_id,
        case=call.interaction.case,
        kind=WorkKind.CALL,
        channel=Channel.VOICE,
        targets=[Target(queue_id, None)],
        language=language if _spoken_in(session, queue_id, language) else None,
        now=now,
    )
    session.flush()
    call.queue_id = queue_id
    call.work_item_id = item.id
    call.queued_at = now
    call.language = language
    set_outcome(call, CallOutcome.IN_QUEUE)
    if callback:
        _mark_callback(call, now)
    schedule_dispatch(session, [call.jurisdiction_id])
    return item


def _spoken_in(session: Session, queue_id: int, language: str) -> bool:
    """Whether any agent of the queue speaks ``language``.

    The caller's language is a preference: where someone speaks it, only they are offered the
    call; where nobody does, anyone is — a caller must never wait for an agent who does not
    exist.
    """
    spoken = session.scalars(
        sa.select(Agent.languages)
        .join(agent_queues, agent_queues.c.agent_id == Agent.id)
        .where(agent_queues.c.queue_id == queue_id, Agent.active.is_(True))
    ).all()
    return any(language in (languages or ()) for languages in spoken)


def _mark_callback(call: Call, now: dt.datetime) -> None:
    call.callback_number = call.interaction.from_address[:32]
    call.callback_requested_at = now
    set_outcome(call, CallOutcome.CALLBACK_REQUESTED)


def twilio_queue_name(call: Call) -> str:
    """One Twilio queue per routing queue; order inside it is ours, not Twilio's."""
    return f"j{call.jurisdiction_id}-q{call.queue_id}"


@dataclass(frozen=True)
class Position:
    place: int
    expected_seconds: int


def position(session: Session, call: Call) -> Position:
    """The caller's place in line (by the routing order: priority, then age) and a wait
    estimate: the calls ahead, times the queue's recent handle time, shared by its agents."""
    item = session.get(WorkItem, call.work_item_id) if call.work_item_id else None
    if item is None or item.state not in (WorkState.WAITING, WorkState.OFFERED):
        return Position(1, 0)
    ahead = session.scalar(
        sa.select(sa.func.count(WorkItem.id)).where(
            WorkItem.queue_id == item.queue_id,
            WorkItem.kind == WorkKind.CALL,
            WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED)),
            sa.or_(
                WorkItem.priority > item.priority,
                sa.and_(
                    WorkItem.priority == item.priority,
                    sa.or_(
                        WorkItem.created_at < item.created_at,
                        sa.and_(WorkItem.created_at == item.created_at, WorkItem.id < item.id),
                    ),
                ),
            ),
        )
    )
    place = int(ahead or 0) + 1
    handle = _handle_seconds(session, item.queue_id)
    staffed = session.scalar(
        sa.select(sa.func.count(Agent.id))
        .join(agent_queues, agent_queues.c.agent_id == Agent.id)
        .where(agent_queues.c.queue_id == item.queue_id, Agent.presence != Presence.OFFLINE)
    )
    return Position(place, round(place * handle / max(1, int(staffed or 0))))


def _handle_seconds(session: Session, queue_id: int) -> float:
    since = utcnow() - dt.timedelta(days=7)
    average = session.scalar(
        sa.select(sa.func.avg(Call.talk_seconds)).where(
            Call.queue_id == queue_id,
            Call.outcome == CallOutcome.ANSWERED,
            Call.created_at >= since,
            Call.talk_seconds.is_not(None),
        )
    )
    return float(average) if average else float(DEFAULT_HANDLE_SECONDS)


def request_callback(session: Session, call: Call) -> bool:
    """The caller in the queue would rather be called back: they keep their work item, and
    so their place. False when their number is hidden (nobody to call back)."""
    if is_hidden(call.interaction.from_address):
        return False
    _mark_callback(call, utcnow())
    return True


def queue_left(session: Session, call: Call, *, result: str, seconds: int | None) -> Call:
    """Twilio says the caller left the queue: to an agent, to be called back, or hung up."""
    notify_supervisors_after_commit(session, call.jurisdiction_id)
    if seconds is None and call.queued_at is not None and call.wait_seconds is None:
        seconds = max(0, round((utcnow() - call.queued_at).total_seconds()))
    if seconds is not None:
        call.wait_seconds = seconds
    if result in ("bridged", "redirected", "bridging-in-process"):
        return call
    if call.callback_requested_at is not None:
        return call  # "leave": the work item stays, the agent will call back
    _cancel_work(session, call)
    if result == "leave":  # we sent them on (closed, or too long a wait): not abandoned yet
        call.outcome = CallOutcome.IN_PROGRESS
    if result == "hangup":
        set_outcome(call, CallOutcome.ABANDONED)
    return call


def _cancel_work(session: Session, call: Call) -> None:
    if call.work_item_id is None:
        return
    now = utcnow()
    withdraw_offers(session, [call.work_item_id], now)
    session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id == call.work_item_id,
            WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED)),
        )
        .values(state=WorkState.CANCELLED, completed_at=now)
        .execution_options(synchronize_session=False)
    )


def call_for_work(session: Session, item: WorkItem) -> Call | None:
    return session.scalars(sa.select(Call).where(Call.work_item_id == item.id)).one_or_none()


def work_assigned(session: Session, item: WorkItem, agent: Agent) -> None:
    """An agent took a call work item: ring them after the commit (connect or call back)."""
    if item.kind != WorkKind.CALL:
        return
    call = call_for_work(session, item)
    if call is None:
        return
    if call.callback_requested_at is not None:
        enqueue_after_commit(session, call_back_job, call.id, agent.id)
    else:
        enqueue_after_commit(session, connect_job, call.id, agent.id)


def _control() -> CallControl:
    control: CallControl = current_app.extensions["call_control"]
    return control


def connect_job(call_id: int, agent_id: int) -> None:
    """Job: take the waiting call out of Twilio's queue and ring the agent."""
    with get_db().session() as session:
        call = get_call(session, call_id, lock=True)
        if call.callback_requested_at is not None:
            # They chose a callback between the offer and this job: keep the promise.
            _call_back(session, call, agent_id)
            session.commit()
            return
        try:
            _control().connect_to_agent(call.call_sid, call_id=call.id, agent_id=agent_id)
        except CallControlError as exc:
            log.warning("call %s could not be connected: %s", call_id, exc)
            if exc.gone:
                _abandon_ringing(session, call, agent_id)
                set_outcome(call, CallOutcome.ABANDONED)
            else:
                agent_missed(session, call, agent_id)
        session.commit()


def call_back_job(call_id: int, agent_id: int) -> None:
    """Job: call the resident back; the agent is rung when they answer."""
    with get_db().session() as session:
        _call_back(session, get_call(session, call_id, lock=True), agent_id)
        session.commit()


def _call_back(session: Session, call: Call, agent_id: int) -> None:
    # Counted before dialling: an attempt Twilio refuses is an attempt too.
    call.callback_attempts += 1
    try:
        sid = _control().call_back(
            to=call.callback_number,
            from_=call.interaction.to_address,
            call_id=call.id,
            agent_id=agent_id,
        )
    except CallControlError as exc:
        log.warning("callback for call %s failed: %s", call.id, exc)
        callback_failed(session, call, agent_id)
        return
    callback_call(session, call, sid, agent_id=agent_id)


def agent_connected(session: Session, call: Call, agent_id: int) -> None:
    """The call is leaving the queue for the agent: the wait is over."""
    now = utcnow()
    call.agent_id = agent_id
    call.answered_at = now
    if call.queued_at is not None and call.wait_seconds is None:
        call.wait_seconds = max(0, round((now - call.queued_at).total_seconds()))


def agent_leg_ended(
    session: Session, call: Call, agent_id: int, *, status: str, seconds: int | None
) -> bool:
    """The agent's leg ended. True if they talked; False if the agent never picked up (the
    caller goes back in line, keeping their place; a callback is tried again, up to a limit)."""
    notify_supervisors_after_commit(session, call.jurisdiction_id)  # answered, or back in line
    root = _root(session, call)
    if status == "completed":
        call.talk_seconds = seconds
        set_outcome(call, CallOutcome.ANSWERED)
        if root is not call:
            root.talk_seconds = seconds
            set_outcome(root, CallOutcome.ANSWERED)
        _finish_work(session, root, agent_id)
        return True
    if root is not call:
        callback_failed(session, root, agent_id)
    else:
        agent_missed(session, root, agent_id)
    return False


def _root(session: Session, call: Call) -> Call:
    """A callback's work item belongs to the call on which it was asked for."""
    if call.parent_call_id is None:
        return call
    return get_call(session, call.parent_call_id)


def _finish_work(session: Session, call: Call, agent_id: int) -> None:
    if call.work_item_id is None:
        return
    item = session.get(WorkItem, call.work_item_id)
    agent = session.get(Agent, agent_id)
    if item is None or agent is None or item.state != WorkState.ASSIGNED:
        return
    if item.agent_id == agent.id:
        complete_work(session, item.id, agent)


def _abandon_ringing(session: Session, call: Call, agent_id: int) -> None:
    """The caller hung up while their agent was being rung: nobody ever talked to them.

    The work is cancelled and its assignment forgotten, so the contact counts as abandoned
    (not answered and handled), and the agent's capacity is free again (capacity counts
    assigned work only).
    """
    if call.work_item_id is None or call.talk_seconds is not None:
        _finish_work(session, call, agent_id)
        return
    cancelled = session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id == call.work_item_id,
            WorkItem.state == WorkState.ASSIGNED,
            WorkItem.agent_id == agent_id,
        )
        .values(
            state=WorkState.CANCELLED,
            completed_at=utcnow(),
            assigned_at=None,
            first_assigned_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if cancelled.rowcount == 1:  # type: ignore[attr-defined]
        notify_supervisors_after_commit(session, call.jurisdiction_id)


def agent_missed(session: Session, call: Call, agent_id: int) -> None:
    """Back in line: the item waits again, this agent is skipped for it for a while.

    Only while this agent still holds it: a late or repeated callback about an earlier
    agent's leg must not take the call from the agent who holds it now.
    """
    if call.work_item_id is None:
        return
    now = utcnow()
    requeued = session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id == call.work_item_id,
            WorkItem.state == WorkState.ASSIGNED,
            WorkItem.agent_id == agent_id,
        )
        # Rung, never answered: the resident's wait goes on (they were not answered yet).
        .values(state=WorkState.WAITING, agent_id=None, assigned_at=None, first_assigned_at=None)
        .execution_options(synchronize_session=False)
    )
    if requeued.rowcount != 1:  # type: ignore[attr-defined]
        return
    notify_supervisors_after_commit(session, call.jurisdiction_id)
    session.execute(
        sa.update(Offer)
        .where(
            Offer.work_item_id == call.work_item_id,
            Offer.agent_id == agent_id,
            Offer.state == OfferState.ACCEPTED,
        )
        .values(state=OfferState.DECLINED, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    call.agent_id = None
    call.answered_at = None
    schedule_dispatch(session, [call.jurisdiction_id])


def callback_failed(session: Session, root: Call, agent_id: int) -> None:
    """A callback did not reach the resident and an agent: try again, up to a limit.

    Only while ``agent_id`` still holds the work: news of an earlier attempt changes nothing.
    """
    item = session.get(WorkItem, root.work_item_id) if root.work_item_id else None
    if item is None or item.state != WorkState.ASSIGNED or item.agent_id != agent_id:
        return
    if root.callback_attempts >= MAX_CALLBACK_ATTEMPTS:
        _finish_work(session, root, agent_id)
        root.outcome = CallOutcome.FAILED
        return
    agent_missed(session, root, agent_id)


def call_ended(session: Session, call: Call, status: str) -> None:
    """Twilio's final status for a call: nothing it held may stay held.

    A caller still in line hung up (abandoned). A caller who hung up while their agent was
    being rung, before the agent's leg began, leaves that agent's work assigned unless it is
    finished here. A callback leg that never reached the agent is a failed attempt.
    """
    notify_supervisors_after_commit(session, call.jurisdiction_id)
    if call.outcome == CallOutcome.IN_QUEUE:
        queue_left(session, call, result="hangup", seconds=None)
    if call.parent_call_id is not None:
        if call.talk_seconds is None and call.agent_id is not None:
            callback_failed(session, _root(session, call), call.agent_id)
        return
    if call.callback_requested_at is None and call.talk_seconds is None and call.agent_id:
        item = session.get(WorkItem, call.work_item_id) if call.work_item_id else None
        if item is not None and item.state == WorkState.ASSIGNED:
            _abandon_ringing(session, call, call.agent_id)
            set_outcome(call, CallOutcome.ABANDONED)


def callback_call(
    session: Session, parent: Call, call_sid: str, *, agent_id: int | None = None
) -> Call:
    """The outbound callback call (recorded here, or when its answer beats our commit)."""
    leg = start_call(
        session,
        jurisdiction_id=parent.jurisdiction_id,
        call_sid=call_sid,
        from_number=parent.interaction.to_address,
        to_number=parent.callback_number,
        menu_id=parent.menu_id,
        direction=Direction.OUTBOUND,
        parent=parent,
    ).call
    leg.language = parent.language
    if agent_id is not None and leg.agent_id is None:
        leg.agent_id = agent_id
    return leg


def queue_of(session: Session, call: Call) -> Queue | None:
    return session.get(Queue, call.queue_id) if call.queue_id else None
