"""The waiting queue: work items, offers to agents, acceptance, completion.

Work waits ordered by priority, then age. :func:`dispatch` offers each waiting item to one
eligible agent (right queue, skills and language, presence "available", spare capacity on the
item's channel), picked by the queue's strategy. The agent accepts or declines; an offer nobody
answers expires (see :mod:`contactcenter.routing.tick`) and the item goes to the next agent.

Never assigning one item to two agents does not depend on locks: every state change is a
conditional UPDATE (``... WHERE state = 'offered'``) whose row count says who won, and the
database refuses a second pending offer for an item (a partial unique index). On PostgreSQL
``dispatch`` also takes a per-jurisdiction advisory lock, so two workers dispatching at once
don't both offer to the same agent and overbook them.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import DEFAULT_CAPACITY, Agent, Presence, agent_jurisdictions
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import UTCDateTime, utcnow
from contactcenter.errors import Conflict, NotFound
from contactcenter.messages import Channel
from contactcenter.realtime import (
    OFFER,
    OFFER_GONE,
    notify_agent_after_commit,
    notify_supervisors_after_commit,
)
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    Offer,
    OfferState,
    Queue,
    Strategy,
    WorkItem,
    WorkKind,
    WorkState,
    agent_queues,
)

CONTACT_KINDS = (WorkKind.FIRST_RESPONSE, WorkKind.CALL, WorkKind.CHAT)
"""Work that is a resident's contact (an escalation is the floor's own work)."""
WRAP_UP_WINDOW = dt.timedelta(minutes=15)
"""How long after finishing a contact its agent may still resolve the case "on" it."""

DISPATCH_BATCH = 500
"""Waiting items read per page; the most urgent and oldest come first."""
MAX_PAGES = 20
"""How deep one dispatch (or pull) looks past work nobody available can take."""


@dataclass(frozen=True)
class Target:
    queue_id: int
    timeout_seconds: int | None


def enqueue_work(
    session: Session,
    *,
    jurisdiction_id: int,
    case: Case | None,
    kind: WorkKind,
    channel: Channel,
    targets: Sequence[Target],
    priority: int = 1,
    skills: Iterable[str] = (),
    language: str | None = None,
    now: dt.datetime | None = None,
) -> WorkItem:
    """Put work in its first target queue; the caller schedules :func:`dispatch_job`."""
    if not targets:
        raise ValueError("work needs at least one target queue")
    now = now or utcnow()
    item = WorkItem(
        jurisdiction_id=jurisdiction_id,
        case=case,
        kind=kind,
        channel=channel,
        queue_id=targets[0].queue_id,
        priority=priority,
        required_skills=sorted(set(skills)),
        language=language,
        targets=[[t.queue_id, t.timeout_seconds] for t in targets],
        target_index=0,
        target_started_at=now,
        target_deadline_at=_deadline(targets[0].timeout_seconds, len(targets) > 1, now),
        state=WorkState.WAITING,
        created_at=now,
    )
    session.add(item)
    notify_supervisors_after_commit(session, jurisdiction_id)
    return item


def _deadline(timeout: int | None, has_next: bool, now: dt.datetime) -> dt.datetime | None:
    """When to move on to the next target; the last target keeps the work for good."""
    if timeout is None or not has_next:
        return None
    return now + dt.timedelta(seconds=timeout)


@dataclass
class _Candidate:
    """An available agent as dispatch sees them: plain values, not an ORM object."""

    agent_id: int
    skills: frozenset[str]
    languages: frozenset[str]
    capacity: dict[str, int]
    queue_ids: set[int]
    load: dict[str, int]
    idle_since: dt.datetime

    @classmethod
    def of(
        cls,
        agent_id: int,
        skills: list[str] | None,
        languages: list[str] | None,
        capacity: dict[str, int] | None,
        presence_changed_at: dt.datetime,
        last_assigned_at: dt.datetime | None,
    ) -> _Candidate:
        """From an agent's columns; idle since as :attr:`Agent.idle_since` defines it."""
        idle_since = (
            presence_changed_at
            if last_assigned_at is None
            else max(presence_changed_at, last_assigned_at)
        )
        return cls(
            agent_id,
            frozenset(skills or ()),
            frozenset(languages or ()),
            {**DEFAULT_CAPACITY, **(capacity or {})},
            set(),
            {},
            idle_since,
        )

    def has_room(self, channel: str) -> bool:
        limit = self.capacity.get(channel, DEFAULT_CAPACITY.get(channel, 1))
        return self.load.get(channel, 0) < limit

    def has_any_room(self) -> bool:
        return any(self.load.get(channel, 0) < n for channel, n in self.capacity.items())

    @property
    def total_load(self) -> int:
        return sum(self.load.values())

    def can_take(self, item: WorkItem) -> bool:
        return (
            item.queue_id in self.queue_ids
            and self.has_room(item.channel)
            and self.skills.issuperset(item.required_skills)
            and (item.language is None or item.language in self.languages)
        )


def dispatch(session: Session, jurisdiction_id: int, now: dt.datetime | None = None) -> list[Offer]:
    """Offer waiting work to available agents with room for it; returns the new offers.

    Waiting work is read in pages, most urgent and oldest first, until the queue is exhausted:
    work nobody here can take never hides the work behind it. Only the agents of the queues
    that work waits in are read, so the usual dispatch (one new case) reads one queue's agents.
    """
    _lock_jurisdiction(session, jurisdiction_id)
    now = now or utcnow()  # after the lock: an offer's clock starts when it is made
    if not _anyone_available(session, jurisdiction_id):
        # Nights and storms: a backlog of thousands is not read page by page for nobody.
        return []
    candidates: dict[int, _Candidate] = {}
    loaded: set[int] = set()
    offers: list[Offer] = []
    after: tuple[int, dt.datetime, int] | None = None
    for _page in range(MAX_PAGES):
        items = _waiting_page(session, jurisdiction_id, after)
        if not items:
            break
        queue_ids = {i.queue_id for i in items} - loaded
        if queue_ids:
            _add_available_agents(session, candidates, queue_ids)
            loaded |= queue_ids
        with_room = [c for c in candidates.values() if c.has_any_room()]
        if with_room:
            offers += _offer_page(session, jurisdiction_id, items, with_room, now)
        if len(items) < DISPATCH_BATCH:
            break
        last = items[-1]
        after = (last.priority, last.created_at, last.id)
    session.flush()
    for offer in offers:
        notify_agent_after_commit(session, offer.agent_id, OFFER, {"offer_id": offer.id})
    if offers:
        notify_supervisors_after_commit(session, jurisdiction_id)
    return offers


def _anyone_available(session: Session, jurisdiction_id: int) -> bool:
    return (
        session.scalar(
            sa.select(Agent.id)
            .join(agent_jurisdictions, agent_jurisdictions.c.agent_id == Agent.id)
            .where(
                agent_jurisdictions.c.jurisdiction_id == jurisdiction_id,
                Agent.presence == Presence.AVAILABLE,
                Agent.active.is_(True),
            )
            .limit(1)
        )
        is not None
    )


def _waiting_page(
    session: Session,
    jurisdiction_id: int | None,
    after: tuple[int, dt.datetime, int] | None,
    *,
    queue_ids: set[int] | None = None,
) -> Sequence[WorkItem]:
    """The next page of waiting work, keyset-paginated on (priority desc, age, id)."""
    query = sa.select(WorkItem).where(WorkItem.state == WorkState.WAITING)
    if jurisdiction_id is not None:
        query = query.where(WorkItem.jurisdiction_id == jurisdiction_id)
    if queue_ids is not None:
        query = query.where(WorkItem.queue_id.in_(queue_ids))
    if after is not None:
        priority, created_at, item_id = after
        query = query.where(
            sa.or_(
                WorkItem.priority < priority,
                sa.and_(
                    WorkItem.priority == priority,
                    sa.tuple_(WorkItem.created_at, WorkItem.id) > sa.tuple_(created_at, item_id),
                ),
            )
        )
    return session.scalars(
        query.order_by(WorkItem.priority.desc(), WorkItem.created_at, WorkItem.id).limit(
            DISPATCH_BATCH
        )
    ).all()


def _offer_page(
    session: Session,
    jurisdiction_id: int,
    items: Sequence[WorkItem],
    candidates: list[_Candidate],
    now: dt.datetime,
) -> list[Offer]:
    queues = {
        q.id: q
        for q in session.scalars(sa.select(Queue).where(Queue.id.in_({i.queue_id for i in items})))
    }
    refused = _refused_agents(session, items, queues, now)
    offers: list[Offer] = []
    for item in items:
        skip = refused.get(item.id, set())
        eligible = [c for c in candidates if c.agent_id not in skip and c.can_take(item)]
        if not eligible:
            continue
        queue = queues[item.queue_id]
        chosen = _choose(queue, eligible)
        taken = session.execute(
            sa.update(WorkItem)
            .where(WorkItem.id == item.id, WorkItem.state == WorkState.WAITING)
            .values(state=WorkState.OFFERED)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        offer = Offer(
            jurisdiction_id=jurisdiction_id,
            work_item_id=item.id,
            agent_id=chosen.agent_id,
            state=OfferState.PENDING,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=queue.offer_timeout_seconds),
        )
        session.add(offer)
        offers.append(offer)
        chosen.load[item.channel] = chosen.load.get(item.channel, 0) + 1
        chosen.idle_since = now
        if queue.strategy == Strategy.ROUND_ROBIN:
            queue.last_agent_id = chosen.agent_id
        session.expire(item, ["state"])
    return offers


def _lock_jurisdiction(session: Session, jurisdiction_id: int) -> None:
    """Serialize whoever hands out work in one jurisdiction (PostgreSQL; held until commit).

    Dispatchers and agents pulling work both read an agent's load and then add to it; done
    at once, both could fill the same free slot.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"dispatch:{jurisdiction_id}".encode())
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _add_available_agents(
    session: Session, candidates: dict[int, _Candidate], queue_ids: set[int]
) -> None:
    """Add the available agents of ``queue_ids`` (one narrow query), with their current load.

    Only agents who work for the queue's jurisdiction count. An agent shared by several
    jurisdictions is also locked (PostgreSQL): the jurisdiction lock alone would let two
    jurisdictions' dispatches fill the same free slot.
    """
    every = agent_jurisdictions.alias("every_jurisdiction")
    shared = (
        sa.select(sa.func.count())
        .where(every.c.agent_id == Agent.id)
        .correlate(Agent)
        .scalar_subquery()
        > 1
    )
    rows = session.execute(
        sa.select(
            Agent.id,
            Agent.skills,
            Agent.languages,
            Agent.capacity,
            Agent.presence_changed_at,
            Agent.last_assigned_at,
            agent_queues.c.queue_id,
            shared,
        )
        .join(agent_queues, agent_queues.c.agent_id == Agent.id)
        .join(Queue, Queue.id == agent_queues.c.queue_id)
        .join(
            agent_jurisdictions,
            sa.and_(
                agent_jurisdictions.c.agent_id == Agent.id,
                agent_jurisdictions.c.jurisdiction_id == Queue.jurisdiction_id,
            ),
        )
        .where(
            agent_queues.c.queue_id.in_(queue_ids),
            Agent.presence == Presence.AVAILABLE,
            Agent.active.is_(True),
        )
    ).all()
    new: list[int] = []
    to_lock: list[int] = []
    for agent_id, skills, languages, capacity, changed_at, assigned_at, queue_id, is_shared in rows:
        candidate = candidates.get(agent_id)
        if candidate is None:
            candidate = candidates[agent_id] = _Candidate.of(
                agent_id, skills, languages, capacity, changed_at, assigned_at
            )
            new.append(agent_id)
            if is_shared:
                to_lock.append(agent_id)
        candidate.queue_ids.add(queue_id)
    _lock_agents(session, to_lock)
    if new:
        for agent_id, channel, count in _loads(session, new):
            load = candidates[agent_id].load
            load[channel] = load.get(channel, 0) + count


def _lock_agents(session: Session, agent_ids: Sequence[int]) -> None:
    """Per-agent locks for agents several jurisdictions share, in one global order."""
    if not agent_ids or session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(zlib.crc32(f"agent:{agent_id}".encode()) for agent_id in agent_ids):
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _loads(session: Session, agent_ids: list[int]) -> list[tuple[int, str, int]]:
    """(agent, channel, how many) for assigned work and pending offers: both take capacity."""
    assigned = (
        sa.select(WorkItem.agent_id, WorkItem.channel, sa.func.count())
        .where(WorkItem.agent_id.in_(agent_ids), WorkItem.state == WorkState.ASSIGNED)
        .group_by(WorkItem.agent_id, WorkItem.channel)
    )
    offered = (
        sa.select(Offer.agent_id, WorkItem.channel, sa.func.count())
        .join(WorkItem, WorkItem.id == Offer.work_item_id)
        .where(Offer.agent_id.in_(agent_ids), Offer.state == OfferState.PENDING)
        .group_by(Offer.agent_id, WorkItem.channel)
    )
    rows: list[Any] = list(session.execute(sa.union_all(assigned, offered)))
    return [(int(row[0]), str(row[1]), int(row[2])) for row in rows]


def _refused_agents(
    session: Session, items: Sequence[WorkItem], queues: dict[int, Queue], now: dt.datetime
) -> dict[int, set[int]]:
    """Agents who recently declined an item or let its offer expire, per item.

    They are skipped for one offer timeout, so the next agent gets their turn; after that
    they may be offered it again, or work nobody else can take would wait forever.
    """
    rows = session.execute(
        sa.select(Offer.work_item_id, Offer.agent_id, Offer.answered_at)
        .join(WorkItem, WorkItem.id == Offer.work_item_id)
        .where(
            Offer.work_item_id.in_([i.id for i in items]),
            Offer.state.in_((OfferState.DECLINED, OfferState.TIMED_OUT)),
            Offer.created_at >= WorkItem.target_started_at,
        )
    ).all()
    queue_of = {i.id: i.queue_id for i in items}
    refused: dict[int, set[int]] = defaultdict(set)
    for item_id, agent_id, answered_at in rows:
        lapse = dt.timedelta(seconds=queues[queue_of[item_id]].offer_timeout_seconds)
        if answered_at is None or answered_at + lapse > now:
            refused[item_id].add(agent_id)
    return refused


def _choose(queue: Queue, eligible: list[_Candidate]) -> _Candidate:
    if queue.strategy == Strategy.LEAST_BUSY:
        return min(eligible, key=lambda c: (c.total_load, c.idle_since, c.agent_id))
    if queue.strategy == Strategy.ROUND_ROBIN:
        ordered = sorted(eligible, key=lambda c: c.agent_id)
        after = [
            c for c in ordered if queue.last_agent_id is None or c.agent_id > queue.last_agent_id
        ]
        return (after or ordered)[0]
    return min(eligible, key=lambda c: (c.idle_since, c.agent_id))


def accept_offer(
    session: Session, offer_id: int, agent: Agent, now: dt.datetime | None = None
) -> WorkItem:
    """The agent takes the work. Exactly one agent can win an item, whatever the timing.

    :raises NotFound: no such offer for this agent.
    :raises Conflict: the offer expired, was withdrawn or was already answered.
    """
    now = now or utcnow()
    offer = _own_offer(session, offer_id, agent)
    lock_case_of(session, offer.work_item_id)
    _lock_item(session, offer.work_item_id)
    won = session.execute(
        sa.update(Offer)
        .where(Offer.id == offer.id, Offer.state == OfferState.PENDING, Offer.expires_at > now)
        .values(state=OfferState.ACCEPTED, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(offer)
        raise Conflict(_gone_message(offer, now), code="offer_unavailable")
    assigned = session.execute(
        sa.update(WorkItem)
        .where(WorkItem.id == offer.work_item_id, WorkItem.state == WorkState.OFFERED)
        .values(
            state=WorkState.ASSIGNED,
            agent_id=agent.id,
            assigned_at=now,
            first_assigned_at=first_assigned(now),
        )
        .execution_options(synchronize_session=False)
    )
    if assigned.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This work was withdrawn.", code="offer_unavailable")
    # The agent's other open consoles drop it too.
    notify_agent_after_commit(session, agent.id, OFFER_GONE, {"offer_id": offer.id})
    notify_supervisors_after_commit(session, offer.jurisdiction_id)
    session.expire(offer)
    item = session.get_one(WorkItem, offer.work_item_id, populate_existing=True)
    _assign_case(session, item, agent, now)
    return item


def first_assigned(now: dt.datetime) -> sa.ColumnElement[dt.datetime]:
    """When the resident was first answered: set by the first assignment, kept by every later
    one (a transfer or a reassignment moves ``assigned_at``, not the answer the resident got)."""
    return sa.func.coalesce(
        WorkItem.first_assigned_at, sa.literal(now, UTCDateTime()), type_=UTCDateTime()
    )


def lock_case_of(session: Session, item_id: int, *, skip_locked: bool = False) -> bool:
    """Lock the item's case before the item (PostgreSQL): the one global order is case, work
    item, offer, chat. Whoever changes a case (a status change locks it, then its work) and
    whoever takes its work (which then writes to the case) then never wait on each other in
    a circle. A call may have no case yet: nothing to lock then. False if skipped."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    case_id = session.scalar(sa.select(WorkItem.case_id).where(WorkItem.id == item_id))
    if case_id is None:
        return True
    locked = session.scalar(
        sa.select(Case.id).where(Case.id == case_id).with_for_update(skip_locked=skip_locked)
    )
    return locked is not None


def _lock_item(session: Session, item_id: int, *, skip_locked: bool = False) -> bool:
    """Lock a work item before its offers (PostgreSQL): every path takes item, then offer,
    so an accept and the tick never wait on each other in a circle. False if skipped."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    locked = session.scalar(
        sa.select(WorkItem.id)
        .where(WorkItem.id == item_id)
        .with_for_update(skip_locked=skip_locked)
    )
    return locked is not None


def _own_offer(session: Session, offer_id: int, agent: Agent) -> Offer:
    """The agent's own offer, in a jurisdiction they still work for (one they left keeps no
    hold on its work)."""
    offer = session.get(Offer, offer_id) if 1 <= offer_id <= MAX_ID else None
    mine = {j.id for j in agent.jurisdictions}
    if offer is None or offer.agent_id != agent.id or offer.jurisdiction_id not in mine:
        raise NotFound("No such offer.", code="offer_not_found")
    return offer


def _gone_message(offer: Offer, now: dt.datetime) -> str:
    if offer.state == OfferState.PENDING and offer.expires_at <= now:
        return "This offer has expired."
    return f"This offer is no longer available (it was {offer.state.replace('_', ' ')})."


def _assign_case(session: Session, item: WorkItem, agent: Agent, now: dt.datetime) -> None:
    agent.last_assigned_at = now
    if item.case_id is None:
        return
    case = session.get_one(Case, item.case_id)
    case.assigned_agent_id = agent.id
    case.updated_at = now
    record_event(
        session, case, "assigned", agent=agent, work_item=item.id, work_kind=str(item.kind)
    )


def decline_offer(
    session: Session, offer_id: int, agent: Agent, now: dt.datetime | None = None
) -> WorkItem:
    """The agent passes; the item waits for the next agent (this one is skipped for it)."""
    now = now or utcnow()
    offer = _own_offer(session, offer_id, agent)
    lock_case_of(session, offer.work_item_id)
    _lock_item(session, offer.work_item_id)
    declined = session.execute(
        sa.update(Offer)
        .where(Offer.id == offer.id, Offer.state == OfferState.PENDING)
        .values(state=OfferState.DECLINED, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if declined.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(offer)
        raise Conflict(_gone_message(offer, now), code="offer_unavailable")
    notify_agent_after_commit(session, agent.id, OFFER_GONE, {"offer_id": offer.id})
    notify_supervisors_after_commit(session, offer.jurisdiction_id)
    _back_to_waiting(session, offer.work_item_id)
    item = session.get_one(WorkItem, offer.work_item_id, populate_existing=True)
    if item.case_id is not None:
        case = session.get_one(Case, item.case_id)
        record_event(session, case, "offer_declined", agent=agent, work_item=item.id)
    return item


def _back_to_waiting(session: Session, item_id: int) -> None:
    session.execute(
        sa.update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.state == WorkState.OFFERED)
        .values(state=WorkState.WAITING)
        .execution_options(synchronize_session=False)
    )


def claim_next(session: Session, agent: Agent, now: dt.datetime | None = None) -> WorkItem | None:
    """Pull mode: the agent takes the most urgent, oldest waiting item they may handle.

    It holds the same per-jurisdiction lock as dispatch, so a pull and an offer never fill
    the same free slot; rows are not locked while being looked at (only the one taken is
    changed, conditionally), so nobody else's search is blocked or hidden.
    """
    memberships = session.execute(
        sa.select(Queue.id, Queue.jurisdiction_id)
        .join(agent_queues, agent_queues.c.queue_id == Queue.id)
        .join(
            agent_jurisdictions,
            sa.and_(
                agent_jurisdictions.c.agent_id == agent.id,
                agent_jurisdictions.c.jurisdiction_id == Queue.jurisdiction_id,
            ),
        )
        .where(agent_queues.c.agent_id == agent.id)
    ).all()
    if not memberships:
        return None
    for jurisdiction_id in sorted({j for _q, j in memberships}):
        _lock_jurisdiction(session, jurisdiction_id)
    if len(agent.jurisdictions) > 1:
        _lock_agents(session, [agent.id])
    now = now or utcnow()
    candidate = _Candidate.of(
        agent.id,
        agent.skills,
        agent.languages,
        agent.capacity,
        agent.presence_changed_at,
        agent.last_assigned_at,
    )
    candidate.queue_ids = {q for q, _j in memberships}
    for _agent_id, channel, count in _loads(session, [agent.id]):
        candidate.load[channel] = candidate.load.get(channel, 0) + count
    after: tuple[int, dt.datetime, int] | None = None
    for _page in range(MAX_PAGES):
        items = _waiting_page(session, None, after, queue_ids=candidate.queue_ids)
        for item in items:
            if candidate.can_take(item) and _take(session, item, agent, now):
                return item
        if len(items) < DISPATCH_BATCH:
            return None
        last = items[-1]
        after = (last.priority, last.created_at, last.id)
    return None


def _take(session: Session, item: WorkItem, agent: Agent, now: dt.datetime) -> bool:
    lock_case_of(session, item.id)
    taken = session.execute(
        sa.update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.state == WorkState.WAITING)
        .values(
            state=WorkState.ASSIGNED,
            agent_id=agent.id,
            assigned_at=now,
            first_assigned_at=first_assigned(now),
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(item)
    notify_supervisors_after_commit(session, item.jurisdiction_id)
    _assign_case(session, item, agent, now)
    return True


def complete_work(
    session: Session, item_id: int, agent: Agent, now: dt.datetime | None = None
) -> WorkItem:
    """The agent is done with it (wrap-up finished): the capacity is free again.

    It counts as resolved on contact if its case is resolved or closed by now (see
    :func:`release_case_work` for the whole rule).
    """
    now = now or utcnow()
    item = session.get(WorkItem, item_id)
    if item is None or item.agent_id != agent.id:
        raise NotFound("No such work assigned to you.", code="work_not_found")
    lock_case_of(session, item_id)  # a chat's case is written to as the chat ends
    done = session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id == item_id,
            WorkItem.state == WorkState.ASSIGNED,
            WorkItem.agent_id == agent.id,
        )
        .values(
            state=WorkState.COMPLETED, completed_at=now, resolved_on_contact=resolved_on_contact()
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(item)
        if item.agent_id != agent.id:  # reassigned while we waited for the case
            raise NotFound("No such work assigned to you.", code="work_not_found")
        raise Conflict(f"This work is already {item.state}.", code="work_not_assigned")
    session.refresh(item)
    notify_supervisors_after_commit(session, item.jurisdiction_id)
    return item


def ensure_can_take_live(session: Session, item: WorkItem, agent: Agent) -> None:
    """Live work (a chat, a call) given straight to an agent must find them there, with room.

    Nothing hands an active chat back to a queue: given to an agent who is away or offline,
    or already at their capacity, the resident would wait for nobody. Other work may wait
    for its agent's return.

    :raises Conflict: ``agent_not_available``.
    """
    if item.kind not in (WorkKind.CHAT, WorkKind.CALL):
        return
    if agent.presence not in (Presence.AVAILABLE, Presence.BUSY):
        raise Conflict(
            f"{agent.name} is {agent.presence} and cannot take a live {item.kind} now.",
            code="agent_not_available",
        )
    assigned = sa.select(WorkItem.id).where(
        WorkItem.agent_id == agent.id,
        WorkItem.state == WorkState.ASSIGNED,
        WorkItem.channel == item.channel,
        WorkItem.id != item.id,
    )
    offered = (
        sa.select(Offer.id)
        .join(WorkItem, WorkItem.id == Offer.work_item_id)
        .where(
            Offer.agent_id == agent.id,
            Offer.state == OfferState.PENDING,
            WorkItem.channel == item.channel,
            WorkItem.id != item.id,
        )
    )
    load = session.scalar(
        sa.select(sa.func.count()).select_from(sa.union_all(assigned, offered).subquery())
    )
    if (load or 0) >= agent.capacity_for(item.channel):
        raise Conflict(
            f"{agent.name} has no room for another {item.channel} conversation.",
            code="agent_not_available",
        )


def release_case_work(
    session: Session,
    case: Case,
    now: dt.datetime | None = None,
    *,
    resolved_by: Agent | None = None,
) -> int:
    """A resolved or closed case needs nobody: end its live work and withdraw its offers.

    First-contact resolution is recorded here and where work is finished. A contact (work of
    a kind in :data:`CONTACT_KINDS`, never transferred) is *resolved on contact* when its case
    is resolved or closed

    - while its agent still holds it (the work ends here, with the case), or
    - by the time its agent finishes it (:func:`complete_work`, a web chat's end), or
    - by ``resolved_by``, the agent who finished it, within :data:`WRAP_UP_WINDOW` after, with
      no other contact on the case finished since (the call ends, then the agent resolves).

    A reopen clears it again (:func:`forget_resolution`).
    """
    now = now or utcnow()
    ended = _end_live_work(session, case, now, kinds=None, resolving=True)
    if resolved_by is not None and case.id is not None:
        _credit_wrap_up(session, case.id, resolved_by.id, now)
    return ended


def resolved_on_contact() -> sa.ColumnElement[bool]:
    """The value of ``resolved_on_contact`` for work finished now, in an UPDATE of its row: a
    contact, never transferred, whose case is resolved or closed."""
    return sa.and_(
        WorkItem.kind.in_(CONTACT_KINDS),
        WorkItem.transfers == 0,
        sa.exists().where(
            Case.id == WorkItem.case_id,
            Case.status.in_((CaseStatus.RESOLVED, CaseStatus.CLOSED)),
        ),
    )


def _credit_wrap_up(session: Session, case_id: int, agent_id: int, now: dt.datetime) -> None:
    """The case's last finished contact is resolved on contact if ``agent_id`` finished it
    within the wrap-up window and never transferred it (one UPDATE)."""
    last = (
        sa.select(WorkItem.id)
        .where(
            WorkItem.case_id == case_id,
            WorkItem.kind.in_(CONTACT_KINDS),
            WorkItem.state == WorkState.COMPLETED,
        )
        .order_by(WorkItem.completed_at.desc(), WorkItem.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id == last,
            WorkItem.agent_id == agent_id,
            WorkItem.transfers == 0,
            WorkItem.completed_at >= now - WRAP_UP_WINDOW,
            WorkItem.resolved_on_contact.is_(False),
        )
        .values(resolved_on_contact=True)
        .execution_options(synchronize_session=False)
    )


def forget_resolution(session: Session, case_id: int) -> None:
    """The case was reopened: none of its contacts resolved it after all."""
    session.execute(
        sa.update(WorkItem)
        .where(WorkItem.case_id == case_id, WorkItem.resolved_on_contact.is_(True))
        .values(resolved_on_contact=False)
        .execution_options(synchronize_session=False)
    )


def first_response_given(session: Session, case: Case, now: dt.datetime | None = None) -> int:
    """Someone answered the resident: the case no longer waits for a first response.

    Work already assigned stays with its agent; waiting or offered work is withdrawn, so a
    second agent is not sent to answer a resident who has their answer.
    """
    now = now or utcnow()
    return _end_live_work(session, case, now, kinds=(WorkKind.FIRST_RESPONSE,), keep_assigned=True)


def _end_live_work(
    session: Session,
    case: Case,
    now: dt.datetime,
    *,
    kinds: tuple[WorkKind, ...] | None,
    keep_assigned: bool = False,
    resolving: bool = False,
) -> int:
    if case.id is None:
        return 0
    query = sa.select(WorkItem.id).where(
        WorkItem.case_id == case.id, WorkItem.state.in_(LIVE_WORK_STATES)
    )
    if kinds is not None:
        query = query.where(WorkItem.kind.in_(kinds))
    if session.get_bind().dialect.name == "postgresql":
        query = query.order_by(WorkItem.id).with_for_update()
    item_ids = list(session.scalars(query))
    if not item_ids:
        return 0
    notify_supervisors_after_commit(session, case.jurisdiction_id)
    withdrawn = session.execute(
        sa.update(Offer)
        .where(Offer.work_item_id.in_(item_ids), Offer.state == OfferState.PENDING)
        .values(state=OfferState.CANCELLED, answered_at=now)
        .returning(Offer.id, Offer.agent_id)
        .execution_options(synchronize_session=False)
    )
    _announce_gone(session, withdrawn)
    ended = 0
    if not keep_assigned:
        completed = session.execute(
            sa.update(WorkItem)
            .where(WorkItem.id.in_(item_ids), WorkItem.state == WorkState.ASSIGNED)
            .values(
                state=WorkState.COMPLETED,
                completed_at=now,
                resolved_on_contact=sa.and_(
                    WorkItem.kind.in_(CONTACT_KINDS), WorkItem.transfers == 0
                )
                if resolving
                else sa.false(),
            )
            .execution_options(synchronize_session=False)
        )
        ended += completed.rowcount  # type: ignore[attr-defined]
    cancelled = session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id.in_(item_ids),
            WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED)),
        )
        .values(state=WorkState.CANCELLED, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(ended + cancelled.rowcount)  # type: ignore[attr-defined]


def expire_offers(
    session: Session, now: dt.datetime | None = None, limit: int = 500
) -> tuple[set[int], set[int]]:
    """Time out unanswered offers: (jurisdictions that need a dispatch, agents who missed one).

    Safe on several workers at once: rows another worker is handling are skipped, and each
    change is conditional.
    """
    now = now or utcnow()
    query = (
        sa.select(Offer)
        .where(Offer.state == OfferState.PENDING, Offer.expires_at <= now)
        .order_by(Offer.expires_at)
        .limit(limit)
    )
    touched: set[int] = set()
    missed: set[int] = set()
    for offer in session.scalars(query).all():
        if not lock_case_of(session, offer.work_item_id, skip_locked=True):
            continue  # someone is changing the case: the next tick
        if not _lock_item(session, offer.work_item_id, skip_locked=True):
            continue  # another worker (or an accept) has it
        expired = session.execute(
            sa.update(Offer)
            .where(Offer.id == offer.id, Offer.state == OfferState.PENDING)
            .values(state=OfferState.TIMED_OUT, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        if expired.rowcount != 1:  # type: ignore[attr-defined]
            continue
        notify_agent_after_commit(session, offer.agent_id, OFFER_GONE, {"offer_id": offer.id})
        notify_supervisors_after_commit(session, offer.jurisdiction_id)
        _back_to_waiting(session, offer.work_item_id)
        item = session.get_one(WorkItem, offer.work_item_id)
        if item.case_id is not None:
            case = session.get_one(Case, item.case_id)
            record_event(
                session, case, "offer_timed_out", work_item=item.id, agent_id=offer.agent_id
            )
        missed.add(offer.agent_id)
        touched.add(offer.jurisdiction_id)
    return touched, missed


def withdraw_offers(session: Session, item_ids: Iterable[int], now: dt.datetime) -> None:
    """Cancel the pending offers of these work items; their agents hear after the commit."""
    withdrawn = session.execute(
        sa.update(Offer)
        .where(Offer.work_item_id.in_(list(item_ids)), Offer.state == OfferState.PENDING)
        .values(state=OfferState.CANCELLED, answered_at=now)
        .returning(Offer.id, Offer.agent_id)
        .execution_options(synchronize_session=False)
    )
    _announce_gone(session, withdrawn)


def _announce_gone(session: Session, withdrawn: Iterable[Any]) -> None:
    """Tell each agent whose offer was withdrawn (rows of offer id, agent id), after commit."""
    for offer_id, agent_id in withdrawn:
        notify_agent_after_commit(session, agent_id, OFFER_GONE, {"offer_id": offer_id})


def advance_targets(session: Session, now: dt.datetime | None = None, limit: int = 500) -> set[int]:
    """Move work that waited its target's time to the next target queue.

    Candidates are read without locks; each is then locked in the global order (its case,
    then the item), skipping any someone holds, and checked again once locked. Locking the
    items first would hold an item an accepting agent waits for while they hold its case,
    and the tick's own later writes to that case would then close the circle.
    """
    now = now or utcnow()
    item_ids = session.scalars(
        sa.select(WorkItem.id)
        .where(*_overdue(now))
        .order_by(WorkItem.target_deadline_at)
        .limit(limit)
    ).all()
    touched: set[int] = set()
    for item_id in item_ids:
        if not lock_case_of(session, item_id, skip_locked=True):
            continue  # someone is changing the case (and may wait for this item): next tick
        if not _lock_item(session, item_id, skip_locked=True):
            continue  # another worker (or an agent) has it
        item = session.scalars(
            sa.select(WorkItem)
            .where(WorkItem.id == item_id, *_overdue(now))
            .execution_options(populate_existing=True)
        ).one_or_none()
        if item is None:
            continue  # taken or moved on meanwhile
        index = item.target_index + 1
        if index >= len(item.targets):
            item.target_deadline_at = None
            continue
        withdrawn = session.execute(
            sa.update(Offer)
            .where(Offer.work_item_id == item.id, Offer.state == OfferState.PENDING)
            .values(state=OfferState.CANCELLED, answered_at=now)
            .returning(Offer.id, Offer.agent_id)
            .execution_options(synchronize_session=False)
        )
        _announce_gone(session, withdrawn)
        queue_id, timeout = item.targets[index]
        previous = item.queue_id
        item.state = WorkState.WAITING
        item.queue_id = int(queue_id)
        item.target_index = index
        item.target_started_at = now
        item.target_deadline_at = _deadline(timeout, index + 1 < len(item.targets), now)
        if item.case_id is not None:
            case = session.get_one(Case, item.case_id)
            record_event(
                session,
                case,
                "requeued",
                work_item=item.id,
                from_queue=previous,
                to_queue=item.queue_id,
            )
        notify_supervisors_after_commit(session, item.jurisdiction_id)
        touched.add(item.jurisdiction_id)
    return touched


def _overdue(now: dt.datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """Live work not yet taken whose target's time is up."""
    return (
        WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED)),
        WorkItem.target_deadline_at <= now,
    )


def queue_snapshot(session: Session, queue: Queue) -> dict[str, object]:
    """What a supervisor's wallboard shows for one queue."""
    counts = dict(
        session.execute(
            sa.select(WorkItem.state, sa.func.count())
            .where(WorkItem.queue_id == queue.id, WorkItem.state.in_(LIVE_WORK_STATES))
            .group_by(WorkItem.state)
        ).all()
    )
    oldest = session.scalar(
        sa.select(sa.func.min(WorkItem.created_at)).where(
            WorkItem.queue_id == queue.id, WorkItem.state == WorkState.WAITING
        )
    )
    return {
        "waiting": int(counts.get(WorkState.WAITING, 0)),
        "offered": int(counts.get(WorkState.OFFERED, 0)),
        "assigned": int(counts.get(WorkState.ASSIGNED, 0)),
        "oldest_waiting_at": oldest,
    }
