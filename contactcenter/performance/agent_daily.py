"""Keeping the agents' daily rollup (:class:`~contactcenter.performance.models.AgentDaily`).

What an agent did on a local day (work finished and its handle time, the time they held any
work, offers by outcome) is read by :func:`contactcenter.performance.agent_figures.agent_figures`
from these rows instead of from every work item and offer of the period. The rows are kept by
the contact rollups' periodic pass (:func:`contactcenter.performance.contacts.
refresh_contact_rollups`), under its watermark and locks, and built from scratch with them.

A pass recomputes, whole and from the base tables, the (agent, local day) rows that may have
changed since the watermark (minus its overlap):

- the days spanned by the assigned interval (to when it was finished, or now) of every work
  item changed since then, for the agent who holds it;
- for work that changed hands (transferred, released), the days from the earlier holder's
  accepted offer to the change, for that holder;
- the days of the offers made since then (an offer lives about a minute: the overlap covers
  its answer or its expiry);
- the days since the last pass for every agent holding live work (the time held grows) and
  for every agent with a row on those days.

Recomputing a row twice gives the same row, so overlapping passes are harmless. The figures
are those of :data:`contactcenter.performance.agent_figures.AGENT_DEFINITIONS`; held work is
counted up to the pass (at most :data:`contactcenter.performance.contacts.REFRESH_SECONDS`
behind the clock).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.models import AgentDaily
from contactcenter.performance.rollup import zone_of
from contactcenter.routing.models import Offer, OfferState, WorkItem, WorkKind, WorkState

AGENT_DAILY: sa.Table = AgentDaily.__table__  # type: ignore[assignment]
WORK: sa.Table = WorkItem.__table__  # type: ignore[assignment]
OFFERS: sa.Table = Offer.__table__  # type: ignore[assignment]
CONTACT_KINDS = frozenset(k.value for k in (WorkKind.FIRST_RESPONSE, WorkKind.CALL, WorkKind.CHAT))
HELD_STATES = (WorkState.ASSIGNED, WorkState.COMPLETED)
COLUMNS = (
    "handled",
    "handle_seconds",
    "occupied_seconds",
    "offers",
    "accepted",
    "declined",
    "timed_out",
)
OFFER_COLUMN = {
    OfferState.ACCEPTED.value: "accepted",
    OfferState.DECLINED.value: "declined",
    OfferState.TIMED_OUT.value: "timed_out",
}
BATCH = 5000

Pairs = dict[int, dict[int, set[dt.date]]]
"""Jurisdiction -> agent -> local days to recompute."""


def rebuild_agent_days(session: Session, jurisdiction: Jurisdiction, now: dt.datetime) -> None:
    """Every agent's every day of the jurisdiction, from scratch (held work counted to ``now``)."""
    session.execute(sa.delete(AGENT_DAILY).where(AGENT_DAILY.c.jurisdiction_id == jurisdiction.id))
    _write(session, jurisdiction.id, _compute(session, jurisdiction, None, None, now))


def changed_agent_days(
    session: Session, since: dt.datetime, now: dt.datetime, jurisdictions: Sequence[Jurisdiction]
) -> Pairs:
    """The (agent, local day) rows of each jurisdiction that may have changed at or after
    ``since`` (two queries)."""
    if not jurisdictions:
        return {}
    ids = [j.id for j in jurisdictions]
    zones = {j.id: zone_of(j.timezone) for j in jurisdictions}
    w = WORK.alias("w")
    o = OFFERS.alias("o")
    mark = sa.literal(now, WorkItem.updated_at.type)
    begin = sa.literal(since, WorkItem.updated_at.type)
    spans = sa.union_all(
        # Changed work, for whoever holds it.
        sa.select(
            w.c.jurisdiction_id,
            w.c.agent_id,
            w.c.assigned_at.label("since"),
            sa.func.coalesce(w.c.completed_at, mark).label("upto"),
        ).where(w.c.updated_at >= since, w.c.agent_id.is_not(None), w.c.assigned_at.is_not(None)),
        # Changed work that an earlier holder accepted, for that holder.
        sa.select(o.c.jurisdiction_id, o.c.agent_id, o.c.created_at, w.c.updated_at)
        .select_from(w.join(o, o.c.work_item_id == w.c.id))
        .where(
            w.c.updated_at >= since,
            o.c.state == OfferState.ACCEPTED.value,
            sa.or_(w.c.agent_id.is_(None), w.c.agent_id != o.c.agent_id),
        ),
        # Offers made since (every state named, so that the (state, expires_at) index serves).
        sa.select(o.c.jurisdiction_id, o.c.agent_id, o.c.created_at, o.c.created_at).where(
            o.c.state.in_([s.value for s in OfferState]), o.c.expires_at >= since
        ),
        # Work still held: its time grows.
        sa.select(w.c.jurisdiction_id, w.c.agent_id, begin, mark).where(
            w.c.jurisdiction_id.in_(ids),
            w.c.state == WorkState.ASSIGNED.value,
            w.c.agent_id.is_not(None),
        ),
    )
    pairs: Pairs = defaultdict(lambda: defaultdict(set))
    for jurisdiction_id, agent_id, start, end in session.execute(spans):
        zone = zones.get(jurisdiction_id)
        if zone is None or start is None:
            continue
        start, end = _utc(start), _utc(end)
        first = start.astimezone(zone).date()
        last = max(start, min(end, now)).astimezone(zone).date()
        days = pairs[jurisdiction_id][agent_id]
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            days.add(dt.date.fromordinal(ordinal))
    # Agents with a row on the days since the last pass (work moved away from them without an
    # offer of theirs to trace it by).
    recent = min(since.astimezone(zone).date() for zone in zones.values())
    for jurisdiction_id, agent_id, day in session.execute(
        sa.select(AGENT_DAILY.c.jurisdiction_id, AGENT_DAILY.c.agent_id, AGENT_DAILY.c.day).where(
            AGENT_DAILY.c.jurisdiction_id.in_(ids), AGENT_DAILY.c.day >= recent
        )
    ):
        zone = zones[jurisdiction_id]
        if day >= since.astimezone(zone).date():
            pairs[jurisdiction_id][agent_id].add(day)
    return {j: dict(agents) for j, agents in pairs.items()}


def recompute_agent_days(
    session: Session,
    jurisdiction: Jurisdiction,
    days_by_agent: Mapping[int, set[dt.date]],
    now: dt.datetime,
) -> None:
    """Recompute the given rows whole: each agent's runs of consecutive days, the agents with
    the same run together (one read of the work and one of the offers per run)."""
    runs: defaultdict[tuple[dt.date, dt.date], list[int]] = defaultdict(list)
    for agent_id, days in days_by_agent.items():
        for run in _runs(sorted(days)):
            runs[run].append(agent_id)
    for (first, last), agents in sorted(runs.items()):
        agents.sort()
        session.execute(
            sa.delete(AGENT_DAILY).where(
                AGENT_DAILY.c.jurisdiction_id == jurisdiction.id,
                AGENT_DAILY.c.agent_id.in_(agents),
                AGENT_DAILY.c.day >= first,
                AGENT_DAILY.c.day <= last,
            )
        )
        _write(
            session, jurisdiction.id, _compute(session, jurisdiction, agents, (first, last), now)
        )


def _runs(days: Sequence[dt.date]) -> Iterable[tuple[dt.date, dt.date]]:
    """Sorted ``days`` as (first, last) runs of consecutive days."""
    start = previous = None
    for day in days:
        if previous is not None and (day - previous).days > 1:
            assert start is not None
            yield start, previous
            start = None
        if start is None:
            start = day
        previous = day
    if start is not None and previous is not None:
        yield start, previous


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class _Days:
    """Local days of one zone: each UTC instant's day, and each day's end (cached)."""

    def __init__(self, zone: dt.tzinfo) -> None:
        self.zone = zone
        self._ends: dict[dt.date, dt.datetime] = {}

    def of(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.zone).date()

    def start(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), self.zone).astimezone(dt.UTC)

    def end(self, day: dt.date) -> dt.datetime:
        end = self._ends.get(day)
        if end is None:
            end = self._ends[day] = self.start(day + dt.timedelta(days=1))
        return end


def _compute(
    session: Session,
    jurisdiction: Jurisdiction,
    agents: Sequence[int] | None,
    days: tuple[dt.date, dt.date] | None,
    now: dt.datetime,
) -> dict[tuple[int, dt.date], dict[str, float]]:
    """The rows of ``agents`` (all when ``None``) on the local days ``days`` (first, last;
    all when ``None``), from the work items and offers (two queries)."""
    calendar = _Days(zone_of(jurisdiction.timezone))
    low = calendar.start(days[0]) if days is not None else None
    high = min(calendar.end(days[1]), now) if days is not None else now
    rows: defaultdict[tuple[int, dt.date], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys(COLUMNS, 0.0)
    )

    w = WORK
    o = OFFERS
    work = sa.select(w.c.agent_id, w.c.kind, w.c.state, w.c.assigned_at, w.c.completed_at).where(
        w.c.jurisdiction_id == jurisdiction.id,
        w.c.agent_id.is_not(None),
        w.c.state.in_([s.value for s in HELD_STATES]),
        w.c.assigned_at.is_not(None),
        w.c.assigned_at < high,
    )
    offers = sa.select(o.c.agent_id, o.c.created_at, o.c.state).where(
        o.c.jurisdiction_id == jurisdiction.id, o.c.created_at < high
    )
    if agents is not None:
        work = work.where(w.c.agent_id.in_(agents))
        offers = offers.where(o.c.agent_id.in_(agents))
    if low is not None:
        # Work finished in or after the period was last changed no earlier than it finished:
        # this lets the index on updated_at skip the work finished before the period.
        work = work.where(sa.or_(w.c.state == WorkState.ASSIGNED.value, w.c.updated_at >= low))
        offers = offers.where(o.c.created_at >= low)
    work = work.order_by(w.c.agent_id, w.c.assigned_at)

    current: int | None = None
    island: list[dt.datetime] | None = None  # [since, upto] of the agent's current island

    def close() -> None:
        if island is not None and current is not None:
            _occupy(rows, calendar, current, island[0], island[1])

    for agent_id, kind, state, assigned_at, completed_at in session.execute(
        work.execution_options(yield_per=10000)
    ):
        ended = min(completed_at, now) if completed_at is not None else now
        if (
            state == WorkState.COMPLETED.value
            and completed_at is not None
            and str(kind) in CONTACT_KINDS
            and (low is None or completed_at >= low)
            and completed_at < high
        ):
            row = rows[(agent_id, calendar.of(completed_at))]
            row["handled"] += 1
            row["handle_seconds"] += (completed_at - assigned_at).total_seconds()
        since = assigned_at if low is None or assigned_at > low else low
        upto = ended if ended < high else high
        if upto <= since:
            continue
        if agent_id != current:
            close()
            current, island = agent_id, None
        if island is not None and since <= island[1]:
            island[1] = max(island[1], upto)
        else:
            close()
            island = [since, upto]
    close()

    for agent_id, created_at, state in session.execute(offers.execution_options(yield_per=10000)):
        row = rows[(agent_id, calendar.of(created_at))]
        row["offers"] += 1
        column = OFFER_COLUMN.get(str(state))
        if column is not None:
            row[column] += 1
    return dict(rows)


def _occupy(
    rows: defaultdict[tuple[int, dt.date], dict[str, float]],
    calendar: _Days,
    agent_id: int,
    since: dt.datetime,
    upto: dt.datetime,
) -> None:
    """Add the island [since, upto) to the agent's days, cut at each local midnight."""
    while since < upto:
        day = calendar.of(since)
        end = min(calendar.end(day), upto)
        rows[(agent_id, day)]["occupied_seconds"] += (end - since).total_seconds()
        since = end


def _write(
    session: Session, jurisdiction_id: int, rows: Mapping[tuple[int, dt.date], dict[str, float]]
) -> None:
    values: list[dict[str, Any]] = []
    for (agent_id, day), row in sorted(rows.items()):
        figures = {name: round(row[name]) for name in COLUMNS}
        if any(figures.values()):
            values.append(
                {"jurisdiction_id": jurisdiction_id, "day": day, "agent_id": agent_id, **figures}
            )
    for start in range(0, len(values), BATCH):
        session.execute(sa.insert(AGENT_DAILY), values[start : start + BATCH])
