"""Agents' figures for a period: time in each presence state, occupancy, contacts handled,
handle time, and the offers they accepted, declined or let time out.

Two queries whatever the number of agents or the length of the period: the jurisdiction's
agents with the state each was in when the period began, then their time per presence state
(window functions over ``agent_presence_changes``, clipped to the period) with the sums of
their daily rollup rows (:class:`~contactcenter.performance.models.AgentDaily`: work handled,
handle time, time holding work, offers by outcome; kept by the contact rollups' periodic pass,
see :mod:`contactcenter.performance.agent_daily`). How each figure is computed is in
:data:`AGENT_DEFINITIONS`, which the screens and the API show with them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from contactcenter.agents.models import Agent, Presence, PresenceChange, agent_jurisdictions
from contactcenter.db import UTCDateTime, utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.models import AgentDaily
from contactcenter.performance.rollup import zone_of

STAFFED = (Presence.AVAILABLE, Presence.BUSY)
"""Presence states in which an agent is at work and counts as staffed."""

AGENT_DEFINITIONS: dict[str, str] = {
    "period": "Local days in the jurisdiction's time zone, both ends included; times are cut "
    "to the period (and to now, for a period that has not ended). Presence is read as it "
    "happens; work and offers are summed every 30 seconds, so today's contacts handled, "
    "handle time, time holding work and offers may be up to half a minute behind.",
    "seconds_by_presence": "Time in each presence state (available, busy, away, offline) from "
    "the agent's presence changes. The state when the period began is the one set by the last "
    "change before it; an agent with no change before it was, until their first change, in "
    "the state that change left (from when the agent was created). Presence is the agent's "
    "own, so for an agent who works for several jurisdictions it is their whole time.",
    "staffed_seconds": "Time available or busy: the time the agent was at work.",
    "handled": "Contacts (a case's first response, a call or a chat; not escalations) the "
    "agent finished in the period, counted when they finished them.",
    "handle_seconds": "Total time from when the agent got each handled contact to when they "
    "finished it: talk (or writing) and wrap-up.",
    "aht_seconds": "Average handle time: handle time divided by contacts handled; none when "
    "nothing was handled.",
    "occupied_seconds": "Time during which the agent held at least one piece of work (any "
    "kind, escalations included), however many at once: the union of the intervals from when "
    "each was assigned to them to when it was finished (or now), cut to the period. Work moved "
    "to someone else counts for whoever holds it now.",
    "occupancy": "Occupied time divided by staffed time, at most 100 % (work held while away "
    "counts no more than the staffed time); none when the agent was never staffed.",
    "offers": "Work offered to the agent in the period (counted when offered), whatever became "
    "of it: accepted, declined, timed out (the offer expired unanswered) or withdrawn.",
}


@dataclass
class AgentFigures:
    agent_id: int
    name: str
    seconds_by_presence: dict[str, int]
    staffed_seconds: int
    handled: int
    handle_seconds: int
    aht_seconds: float | None
    occupancy: float | None
    offers: int
    accepted: int
    declined: int
    timed_out: int
    occupied_seconds: int = 0
    active: bool = field(default=True, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "seconds_by_presence": dict(self.seconds_by_presence),
            "staffed_seconds": self.staffed_seconds,
            "occupied_seconds": self.occupied_seconds,
            "occupancy": self.occupancy,
            "handled": self.handled,
            "handle_seconds": self.handle_seconds,
            "aht_seconds": self.aht_seconds,
            "offers": self.offers,
            "accepted": self.accepted,
            "declined": self.declined,
            "timed_out": self.timed_out,
        }

    @property
    def has_activity(self) -> bool:
        return bool(self.staffed_seconds or self.handled or self.offers or self.occupied_seconds)


def agent_figures(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    start: dt.date,
    end: dt.date,
    agent_ids: Sequence[int] | None = None,
) -> list[AgentFigures]:
    """Figures of the jurisdiction's agents (or of ``agent_ids`` among them) for the local days
    ``start`` to ``end``, by name. Deactivated agents are listed only if they did something in
    the period; another jurisdiction's agents never are."""
    zone = zone_of(jurisdiction.timezone)
    first = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    until = min(after, utcnow())
    if until <= first:
        until = first  # a period still to come: no time in it yet
    members = sa.select(agent_jurisdictions.c.agent_id).where(
        agent_jurisdictions.c.jurisdiction_id == jurisdiction.id
    )
    if agent_ids is not None:
        members = members.where(agent_jurisdictions.c.agent_id.in_(list(agent_ids)))
    seconds = _seconds_between(session)
    t0 = sa.literal(first, UTCDateTime())
    t1 = sa.literal(until, UTCDateTime())

    figures = _agents(session, members, first, until)
    presence, daily = _sums(session, jurisdiction.id, members, (t0, t1, start, end), seconds)

    for agent_id, (row, opening_state, opening_from, opening_to) in figures.items():
        by_state = {p.value: 0.0 for p in Presence}
        for state, spent in presence.get(agent_id, {}).items():
            by_state[state] = by_state.get(state, 0.0) + spent
        if opening_state is not None and opening_to > opening_from:
            span = (opening_to - opening_from).total_seconds()
            by_state[opening_state] = by_state.get(opening_state, 0.0) + span
        row.seconds_by_presence = {state: round(spent) for state, spent in by_state.items()}
        row.staffed_seconds = sum(row.seconds_by_presence.get(p.value, 0) for p in STAFFED)
        sums = daily.get(agent_id, {})
        row.occupied_seconds = sums.get("occupied_seconds", 0)
        row.handled = sums.get("handled", 0)
        row.handle_seconds = sums.get("handle_seconds", 0)
        row.aht_seconds = row.handle_seconds / row.handled if row.handled else None
        row.occupancy = (
            min(1.0, row.occupied_seconds / row.staffed_seconds) if row.staffed_seconds else None
        )
        row.offers = sums.get("offers", 0)
        row.accepted = sums.get("accepted", 0)
        row.declined = sums.get("declined", 0)
        row.timed_out = sums.get("timed_out", 0)
    return [row for row, _state, _from, _to in figures.values() if row.active or row.has_activity]


_Opening = tuple[AgentFigures, str | None, dt.datetime, dt.datetime]


def _agents(
    session: Session, members: sa.Select[Any], first: dt.datetime, until: dt.datetime
) -> dict[int, _Opening]:
    """The agents, each with the state they were in from the period's start (or their
    creation) to their first change in it (or its end): one query, three index seeks each."""
    change = aliased(PresenceChange)

    def latest(column: Any, *where: Any, newest: bool) -> Any:
        order = (
            (change.created_at.desc(), change.id.desc())
            if newest
            else (change.created_at, change.id)
        )
        return (
            sa.select(column)
            .where(change.agent_id == Agent.id, *where)
            .order_by(*order)
            .limit(1)
            .scalar_subquery()
        )

    t0 = sa.literal(first, UTCDateTime())
    t1 = sa.literal(until, UTCDateTime())
    rows = session.execute(
        sa.select(
            Agent.id,
            Agent.name,
            Agent.active,
            Agent.presence,
            Agent.created_at,
            latest(change.presence, change.created_at < t0, newest=True),
            latest(change.previous, change.created_at >= t0, change.created_at < t1, newest=False),
            latest(
                change.created_at, change.created_at >= t0, change.created_at < t1, newest=False
            ),
        )
        .where(Agent.id.in_(members))
        .order_by(Agent.name, Agent.id)
    ).all()
    agents: dict[int, _Opening] = {}
    for agent_id, name, active, current, created_at, before, previous, first_at in rows:
        if before is not None:
            state, since = str(before), first
        else:  # no change before the period: the state the first change left, or still holds
            state = str(previous) if previous is not None else str(current)
            since = max(first, created_at)
        upto = first_at if first_at is not None else until
        figures = AgentFigures(
            agent_id=agent_id,
            name=name,
            seconds_by_presence={},
            staffed_seconds=0,
            handled=0,
            handle_seconds=0,
            aht_seconds=None,
            occupancy=None,
            offers=0,
            accepted=0,
            declined=0,
            timed_out=0,
            active=bool(active),
        )
        agents[agent_id] = (figures, state, since, upto)
    return agents


DAILY_SUMS = (
    "handled",
    "handle_seconds",
    "occupied_seconds",
    "offers",
    "accepted",
    "declined",
    "timed_out",
)
"""The :class:`AgentDaily` columns summed over the period's days."""


def _sums(
    session: Session,
    jurisdiction_id: int,
    members: sa.Select[Any],
    period: tuple[Any, Any, dt.date, dt.date],
    seconds: Any,
) -> tuple[dict[int, dict[str, float]], dict[int, dict[str, int]]]:
    """Per agent, the seconds in each state from the changes inside the period (each lasting
    until the next change, LEAD, or the period's end), and the sums of their daily rollup
    rows over the period's local days: one statement, two halves."""
    t0, t1, start, end = period
    changes = (
        sa.select(
            PresenceChange.agent_id,
            PresenceChange.presence,
            PresenceChange.created_at.label("since"),
            sa.func.lead(PresenceChange.created_at)
            .over(
                partition_by=PresenceChange.agent_id,
                order_by=(PresenceChange.created_at, PresenceChange.id),
            )
            .label("next_at"),
        )
        .where(
            PresenceChange.agent_id.in_(members),
            PresenceChange.created_at >= t0,
            PresenceChange.created_at < t1,
        )
        .subquery()
    )
    until = sa.func.coalesce(changes.c.next_at, t1)
    zero = [sa.literal(0) for _ in DAILY_SUMS[1:]]
    presence = sa.select(
        changes.c.agent_id,
        sa.cast(changes.c.presence, sa.String(16)).label("state"),
        sa.func.sum(seconds(until, changes.c.since)).label("first"),
        *zero,
    ).group_by(changes.c.agent_id, changes.c.presence)
    daily = (
        sa.select(
            AgentDaily.agent_id,
            sa.literal("", sa.String(16)),
            *[sa.func.sum(getattr(AgentDaily, name)) for name in DAILY_SUMS],
        )
        .where(
            AgentDaily.jurisdiction_id == jurisdiction_id,
            AgentDaily.agent_id.in_(members),
            AgentDaily.day >= start,
            AgentDaily.day <= end,
        )
        .group_by(AgentDaily.agent_id)
    )
    spent: dict[int, dict[str, float]] = defaultdict(dict)
    sums: dict[int, dict[str, int]] = {}
    for agent_id, state, *values in session.execute(sa.union_all(presence, daily)):
        if state:
            spent[agent_id][str(state)] = float(values[0] or 0)
        else:
            sums[agent_id] = {n: int(v or 0) for n, v in zip(DAILY_SUMS, values, strict=True)}
    return spent, sums


def _seconds_between(session: Session) -> Any:
    """``later - earlier`` in seconds, as SQL, on either engine."""
    if session.get_bind().dialect.name == "postgresql":
        return lambda later, earlier: sa.func.extract("epoch", later - earlier)
    return lambda later, earlier: (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
