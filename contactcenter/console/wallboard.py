"""The supervisors' wallboard figures: one jurisdiction, per queue, now and today.

Computed in a fixed number of GROUP BY queries (eight), however many queues, agents and items
there are: the board is refetched on every change, so it must stay cheap. Everything is plain
dataclasses, so the page, a test or a later API read the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, agent_jurisdictions
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Case
from contactcenter.db import UTCDateTime
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Direction
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    Offer,
    OfferState,
    Queue,
    WorkItem,
    WorkState,
    agent_queues,
)
from contactcenter.sla.models import CaseClock

EXPIRING_WITHIN = dt.timedelta(seconds=30)
"""An offer expiring this soon is counted as "expiring": the agent has not answered."""
CALL_TARGET_SECONDS = 20
"""Service level target for calls: queues have no target of their own yet."""
MAX_ASSIGNED = 500
"""Assigned items listed for reassignment (the figures count them all)."""


@dataclass
class QueueFigures:
    id: int
    name: str
    waiting: int = 0
    """Items in state waiting (not offered, not assigned)."""
    longest_wait_seconds: int | None = None
    """Age of the oldest waiting item (since it was created), or None when nothing waits."""
    offers_pending: int = 0
    offers_expiring: int = 0
    """Pending offers that expire within :data:`EXPIRING_WITHIN`."""
    sla_at_risk: int = 0
    """Cases with live work here whose running SLA clock is past its warning time."""
    presence: dict[Presence, int] = field(default_factory=lambda: dict.fromkeys(Presence, 0))
    agent_ids: list[int] = field(default_factory=list)
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0

    @property
    def service_level(self) -> int | None:
        return service_level(self.answered_in_target, self.answered, self.abandoned)


@dataclass
class AgentFigures:
    id: int
    name: str
    presence: Presence
    presence_since: dt.datetime
    queue_ids: list[int] = field(default_factory=list)
    load: dict[str, int] = field(default_factory=dict)
    """Assigned items in this jurisdiction, per channel."""

    @property
    def total_load(self) -> int:
        return sum(self.load.values())


@dataclass(frozen=True)
class AssignedWork:
    id: int
    queue_id: int
    agent_id: int
    kind: str
    channel: str
    assigned_at: dt.datetime | None
    case_id: int | None
    tracking_number: str | None


@dataclass
class Today:
    """Inbound calls created on the jurisdiction's local day so far."""

    day: dt.date
    since: dt.datetime
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    target_seconds: int = CALL_TARGET_SECONDS

    @property
    def service_level(self) -> int | None:
        return service_level(self.answered_in_target, self.answered, self.abandoned)


@dataclass
class Board:
    jurisdiction_id: int
    now: dt.datetime
    queues: list[QueueFigures]
    agents: list[AgentFigures]
    assigned: list[AssignedWork]
    today: Today


def service_level(in_target: int, answered: int, abandoned: int) -> int | None:
    """Percent of calls answered within the target, of all answered or abandoned (rounded);
    None with no calls, so an empty day does not read as 0 % or 100 %."""
    offered = answered + abandoned
    return None if offered == 0 else round(100 * in_target / offered)


def local_day_start(jurisdiction: Jurisdiction, now: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """The jurisdiction's local date at ``now`` and the instant (UTC) it began."""
    try:
        zone: dt.tzinfo = ZoneInfo(jurisdiction.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    day = now.astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return day, start


def wallboard(session: Session, jurisdiction: Jurisdiction, now: dt.datetime) -> Board:
    """Every figure of the wallboard for ``jurisdiction`` at ``now``."""
    jid = jurisdiction.id
    queues = {
        queue_id: QueueFigures(queue_id, name)
        for queue_id, name in session.execute(
            sa.select(Queue.id, Queue.name)
            .where(Queue.jurisdiction_id == jid)
            .order_by(Queue.name, Queue.id)
        )
    }
    _work(session, jid, now, queues)
    _offers(session, jid, now, queues)
    agents = _agents(session, jid, queues)
    assigned = _assigned(session, jid, agents)
    day, since = local_day_start(jurisdiction, now)
    today = Today(day, since)
    _calls(session, jid, since, queues, today)
    return Board(jid, now, list(queues.values()), list(agents.values()), assigned, today)


def _work(session: Session, jid: int, now: dt.datetime, queues: dict[int, QueueFigures]) -> None:
    """Waiting, longest wait and SLA at risk per queue (one query)."""
    waiting = WorkItem.state == WorkState.WAITING
    running = sa.and_(CaseClock.stopped_at.is_(None), CaseClock.paused_at.is_(None))
    past_warning = sa.or_(
        sa.and_(CaseClock.first_response_at.is_(None), CaseClock.first_response_warn_at <= now),
        sa.and_(CaseClock.first_response_at.is_not(None), CaseClock.resolution_warn_at <= now),
    )
    rows = session.execute(
        sa.select(
            WorkItem.queue_id,
            sa.func.count().filter(waiting),
            sa.type_coerce(sa.func.min(sa.case((waiting, WorkItem.created_at))), UTCDateTime),
            sa.func.count(sa.distinct(WorkItem.case_id)).filter(running, past_warning),
        )
        .outerjoin(CaseClock, CaseClock.case_id == WorkItem.case_id)
        .where(WorkItem.jurisdiction_id == jid, WorkItem.state.in_(LIVE_WORK_STATES))
        .group_by(WorkItem.queue_id)
    )
    for queue_id, count, oldest, at_risk in rows:
        figures = queues.get(queue_id)
        if figures is None:
            continue
        figures.waiting = int(count)
        if oldest is not None:
            figures.longest_wait_seconds = max(0, int((now - oldest).total_seconds()))
        figures.sla_at_risk = int(at_risk)


def _offers(session: Session, jid: int, now: dt.datetime, queues: dict[int, QueueFigures]) -> None:
    """Pending offers, and those about to expire, per queue (one query)."""
    rows = session.execute(
        sa.select(
            WorkItem.queue_id,
            sa.func.count(),
            sa.func.count().filter(Offer.expires_at <= now + EXPIRING_WITHIN),
        )
        .join(WorkItem, WorkItem.id == Offer.work_item_id)
        .where(
            Offer.jurisdiction_id == jid,
            Offer.state == OfferState.PENDING,
            Offer.expires_at > now,
        )
        .group_by(WorkItem.queue_id)
    )
    for queue_id, pending, expiring in rows:
        figures = queues.get(queue_id)
        if figures is not None:
            figures.offers_pending, figures.offers_expiring = int(pending), int(expiring)


def _agents(session: Session, jid: int, queues: dict[int, QueueFigures]) -> dict[int, AgentFigures]:
    """The jurisdiction's active agents, their queues here and their load here (three queries)."""
    agents = {
        agent_id: AgentFigures(agent_id, name, Presence(presence), since)
        for agent_id, name, presence, since in session.execute(
            sa.select(Agent.id, Agent.name, Agent.presence, Agent.presence_changed_at)
            .join(agent_jurisdictions, agent_jurisdictions.c.agent_id == Agent.id)
            .where(agent_jurisdictions.c.jurisdiction_id == jid, Agent.active.is_(True))
            .order_by(Agent.name, Agent.id)
        )
    }
    memberships = session.execute(
        sa.select(agent_queues.c.agent_id, agent_queues.c.queue_id)
        .join(Queue, Queue.id == agent_queues.c.queue_id)
        .where(Queue.jurisdiction_id == jid)
        .order_by(agent_queues.c.queue_id, agent_queues.c.agent_id)
    )
    for agent_id, queue_id in memberships:
        agent = agents.get(agent_id)
        if agent is None or queue_id not in queues:
            continue
        agent.queue_ids.append(queue_id)
        queues[queue_id].agent_ids.append(agent_id)
        queues[queue_id].presence[agent.presence] += 1
    loads = session.execute(
        sa.select(WorkItem.agent_id, WorkItem.channel, sa.func.count())
        .where(WorkItem.jurisdiction_id == jid, WorkItem.state == WorkState.ASSIGNED)
        .group_by(WorkItem.agent_id, WorkItem.channel)
        .order_by(WorkItem.channel)
    )
    for agent_id, channel, count in loads:
        if agent_id in agents:
            agents[agent_id].load[str(channel)] = int(count)
    return agents


def _assigned(session: Session, jid: int, agents: dict[int, AgentFigures]) -> list[AssignedWork]:
    """Assigned work, oldest assignment first, for the reassign forms (one query)."""
    rows = session.execute(
        sa.select(
            WorkItem.id,
            WorkItem.queue_id,
            WorkItem.agent_id,
            WorkItem.kind,
            WorkItem.channel,
            WorkItem.assigned_at,
            WorkItem.case_id,
            Case.tracking_number,
        )
        .outerjoin(Case, Case.id == WorkItem.case_id)
        .where(WorkItem.jurisdiction_id == jid, WorkItem.state == WorkState.ASSIGNED)
        .order_by(WorkItem.assigned_at, WorkItem.id)
        .limit(MAX_ASSIGNED)
    )
    return [
        AssignedWork(
            item_id,
            queue_id,
            int(agent_id),
            str(kind),
            str(channel),
            assigned_at,
            case_id,
            tracking,
        )
        for item_id, queue_id, agent_id, kind, channel, assigned_at, case_id, tracking in rows
        if agent_id is not None
    ]


def _calls(
    session: Session,
    jid: int,
    since: dt.datetime,
    queues: dict[int, QueueFigures],
    today: Today,
) -> None:
    """Today's inbound calls answered (in target) and abandoned, per queue (one query)."""
    answered = Call.outcome == CallOutcome.ANSWERED
    rows = session.execute(
        sa.select(
            Call.queue_id,
            sa.func.count().filter(answered),
            sa.func.count().filter(answered, Call.wait_seconds <= CALL_TARGET_SECONDS),
            sa.func.count().filter(Call.outcome == CallOutcome.ABANDONED),
        )
        .where(
            Call.jurisdiction_id == jid,
            Call.direction == Direction.INBOUND,
            Call.created_at >= since,
            Call.outcome.in_((CallOutcome.ANSWERED, CallOutcome.ABANDONED)),
        )
        .group_by(Call.queue_id)
    )
    for queue_id, answered_count, in_target, abandoned in rows:
        today.answered += int(answered_count)
        today.answered_in_target += int(in_target)
        today.abandoned += int(abandoned)
        figures = queues.get(queue_id) if queue_id is not None else None
        if figures is not None:
            figures.answered = int(answered_count)
            figures.answered_in_target = int(in_target)
            figures.abandoned = int(abandoned)
