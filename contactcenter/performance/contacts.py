"""Keeping the contact-center rollups current: periodic recompute of the intervals that changed.

Contacts change long after they arrive (answered, completed, transferred, resolved, reopened,
called back), through many code paths and bulk ``UPDATE`` statements, so these rollups are
not kept by session events as the case figures are (:mod:`contactcenter.performance.rollup`).
Instead a periodic pass (the routing tick, every :data:`REFRESH_SECONDS`) recomputes from the
sources every 15-minute interval (``slot``) something changed in:

- work items whose ``updated_at`` (set by every change, bulk updates included) is at or after
  the watermark minus :data:`OVERLAP`: the slot they arrived in, and their call's;
- calls changed since then (their own slot and their work item's), looked for among the calls
  that started in the last :data:`CALL_HORIZON` (a later change to a call reaches its work item
  too: an answered callback completes it);
- inbound interactions processed since then.

The overlap covers transactions that wrote ``updated_at`` before the last pass began but
committed after it (and clocks a little apart); on PostgreSQL the watermark recorded is also
never later than the start of the oldest transaction still open, up to
:data:`HOLD_BACK_LIMIT`. A slot is recomputed whole (every queue and channel: a work item moved to
another queue leaves its old row), by ``DELETE`` then ``INSERT ... SELECT ... GROUP BY`` over
the sources (its inbound messages only if some of them changed: otherwise their counts are
kept, so an old contact answered today does not make the pass read every message since), so
recomputing twice changes nothing; then the jurisdiction's local days holding
those slots are summed again from the slots into ``performance_contact_daily``.

Concurrency: one pass at a time holds the watermark (on PostgreSQL, a transaction-level
advisory lock tried without waiting: a second worker finds it taken and does nothing); each
jurisdiction's rows are written under its advisory lock (:func:`lock_key`), which
:func:`rebuild_contact_rollups` takes too, so a rebuild and a pass on the same jurisdiction run
one after the other, each reading what the other committed. SQLite has one writer at a time.

The same pass keeps the agents' daily rollup (:mod:`contactcenter.performance.agent_daily`:
the (agent, local day) rows that may have changed, recomputed whole), and a rebuild rebuilds it.

What a contact is, and what each measure counts, is written in
:data:`contactcenter.performance.contact_figures.DEFINITIONS`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Interaction
from contactcenter.db import UTCDateTime, get_db, utcnow
from contactcenter.jobs import enqueue_after_commit, is_pending
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, Direction
from contactcenter.performance.agent_daily import (
    changed_agent_days,
    rebuild_agent_days,
    recompute_agent_days,
)
from contactcenter.performance.drilldown import counted_contact
from contactcenter.performance.models import (
    CONTACT_MEASURES,
    ContactDaily,
    ContactInterval,
    RollupWatermark,
)
from contactcenter.performance.rollup import zone_of
from contactcenter.performance.targets import (
    DEFAULT_TARGETS,
    OTHER_TARGET,
    SHORT_ABANDON_SECONDS,
    service_target,
)
from contactcenter.routing.models import Queue, WorkItem, WorkKind, WorkState

SLOT_SECONDS = 900
WATERMARK = "contacts"
REFRESH_SECONDS = 30
"""The routing tick refreshes the rollups at most this often."""
OVERLAP = dt.timedelta(minutes=2)
HOLD_BACK_LIMIT = dt.timedelta(minutes=15)
"""A transaction open longer than this may commit changes a pass has already passed by; the
nightly ``contactcenter performance rebuild`` (or the next change to the same work) catches
them."""
"""How far before the watermark each pass looks again (transactions committing late)."""
CALL_HORIZON = dt.timedelta(days=2)
"""Calls changed more than this long after they started are found through their work item."""
NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
"""The watermark of rollups never computed: the first pass rebuilds every jurisdiction."""
FIRST_PASS_TIMEOUT = 3600
"""Seconds rq gives the first pass (it reads every contact) before it is stopped."""
CLUSTER_GAP = 96
"""Slots further apart than a day are recomputed by separate statements (each statement
reads the sources over the span of its slots)."""
CLUSTER_SIZE = 500

LOCK_NAMESPACE = 0x636F6E74
"""The first key of the contact rollups' advisory locks ("cont"); the second is the
jurisdiction id, or :data:`PASS_LOCK` for the lock of the refresh pass itself."""
PASS_LOCK = 0

CONTACT_KINDS = (WorkKind.FIRST_RESPONSE, WorkKind.CALL, WorkKind.CHAT)
ABANDONING_KINDS = (WorkKind.CALL, WorkKind.CHAT)

INTERVALS: sa.Table = ContactInterval.__table__  # type: ignore[assignment]
DAILY: sa.Table = ContactDaily.__table__  # type: ignore[assignment]
WORK: sa.Table = WorkItem.__table__  # type: ignore[assignment]
CALLS: sa.Table = Call.__table__  # type: ignore[assignment]
INTERACTIONS: sa.Table = Interaction.__table__  # type: ignore[assignment]


def lock_key(jurisdiction_id: int) -> tuple[int, int]:
    """The advisory lock (two keys) guarding one jurisdiction's contact rollups (PostgreSQL)."""
    return (LOCK_NAMESPACE, jurisdiction_id)


# --- Public entry points ----------------------------------------------------------------------


def refresh_contact_rollups(session: Session, now: dt.datetime | None = None) -> set[int]:
    """Recompute the intervals, then the local days, whose sources changed since the last pass;
    returns the jurisdictions whose rollups were written (does not commit).

    ``now`` becomes the watermark (never later than the clock: ``updated_at`` is written by
    the clock, and a watermark ahead of it would skip changes). The first pass ever rebuilds
    every jurisdiction. Returns at once, writing nothing, while another worker is at it.
    """
    session.flush()  # the statements below are Core: they would not flush pending changes
    clock = utcnow()
    mark = min(now, clock) if now is not None else clock
    postgres = _is_postgres(session)
    previous = _take_watermark(session, postgres)
    if previous is None:
        return set()  # another worker holds it
    if previous <= NEVER:
        ids = sorted(session.scalars(sa.select(Jurisdiction.id)))
        for jurisdiction_id in ids:
            _rebuild(session, jurisdiction_id, postgres, mark)
        _set_watermark(session, mark)
        return set(ids)
    jurisdictions = session.scalars(sa.select(Jurisdiction).order_by(Jurisdiction.id)).all()
    changed = _changed_slots(session, previous - OVERLAP, postgres, [j.id for j in jurisdictions])
    for jurisdiction_id in sorted(changed):
        _recompute(session, jurisdiction_id, changed[jurisdiction_id], postgres)
    agent_days = changed_agent_days(session, previous - OVERLAP, mark, jurisdictions)
    for jurisdiction in jurisdictions:
        if agent_days.get(jurisdiction.id):
            _lock(session, jurisdiction.id, postgres)
            recompute_agent_days(session, jurisdiction, agent_days[jurisdiction.id], mark)
    _set_watermark(session, _held_back(session, mark, postgres))
    return set(changed) | set(agent_days)


def refresh_contact_rollups_if_due(session: Session, now: dt.datetime | None = None) -> set[int]:
    """:func:`refresh_contact_rollups` unless the last pass was less than
    :data:`REFRESH_SECONDS` ago (one small read when it is not due).

    The pass runs in a savepoint: if it fails, what the caller did in its transaction stays
    (the error is raised all the same). The first pass ever, which reads every contact, is not
    run in the caller's transaction (the routing tick's, which must stay short) but as a job
    after its commit.
    """
    last = session.scalar(sa.select(RollupWatermark.value).where(RollupWatermark.name == WATERMARK))
    if last is None or last <= NEVER:
        if not is_pending(session, first_contact_rollups_job):
            enqueue_after_commit(session, first_contact_rollups_job, timeout=FIRST_PASS_TIMEOUT)
        return set()
    if utcnow() - last < dt.timedelta(seconds=REFRESH_SECONDS):
        return set()
    with session.begin_nested():
        return refresh_contact_rollups(session, now)


def first_contact_rollups_job() -> None:
    """Job: the first pass (every jurisdiction's rollups from scratch), in its own transaction."""
    with get_db().session() as session:
        refresh_contact_rollups(session)
        session.commit()


def rebuild_contact_rollups(session: Session, jurisdiction_id: int) -> None:
    """Recompute one jurisdiction's contact rollups from scratch (does not commit).

    For history loaded by bulk statements, a time zone change, or queue targets changed and
    to be applied to the past (a pass applies the targets in force to what it recomputes).
    """
    _rebuild(session, jurisdiction_id, _is_postgres(session), utcnow())


# --- Watermark --------------------------------------------------------------------------------


def _take_watermark(session: Session, postgres: bool) -> dt.datetime | None:
    """The watermark, for this transaction alone; ``None`` if another pass holds it.

    On PostgreSQL the pass's advisory lock is tried, never waited for; only its holder
    writes the watermark's row, so the row's insert and update wait for nobody either.
    """
    if postgres and not session.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(*lock_key(PASS_LOCK)))
    ):
        return None
    insert = (postgresql.insert if postgres else sqlite.insert)(RollupWatermark)
    session.execute(
        insert.values(name=WATERMARK, value=NEVER).on_conflict_do_nothing(index_elements=["name"])
    )
    value: dt.datetime | None = session.scalar(
        sa.select(RollupWatermark.value).where(RollupWatermark.name == WATERMARK)
    )
    return value


def _held_back(session: Session, mark: dt.datetime, postgres: bool) -> dt.datetime:
    """The watermark to record: on PostgreSQL, no later than the start of the oldest other
    transaction still open, whose writes carry an ``updated_at`` from before they commit and
    would otherwise fall behind the watermark unseen (a commit later than :data:`OVERLAP`);
    but never held back more than :data:`HOLD_BACK_LIMIT`. SQLite has one writer at a time."""
    if not postgres:
        return mark
    oldest: dt.datetime | None = session.scalar(_OLDEST_OPEN_TRANSACTION)
    if oldest is None:
        return mark
    return max(min(mark, oldest), mark - HOLD_BACK_LIMIT)


_OLDEST_OPEN_TRANSACTION = sa.text(
    "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
).columns(sa.column("min", UTCDateTime))


def _set_watermark(session: Session, mark: dt.datetime) -> None:
    session.execute(
        sa.update(RollupWatermark).where(RollupWatermark.name == WATERMARK).values(value=mark)
    )


# --- SQL building blocks ----------------------------------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _slot(column: Any, postgres: bool) -> sa.ColumnElement[int]:
    """The 15-minute slot (UTC seconds // 900) of a timestamp column, in SQL."""
    if postgres:
        return sa.cast(sa.func.floor(sa.extract("epoch", column) / SLOT_SECONDS), sa.Integer)
    return sa.cast(sa.func.strftime("%s", column), sa.Integer) // SLOT_SECONDS


def _seconds(later: Any, earlier: Any, postgres: bool) -> sa.ColumnElement[Any]:
    """``later - earlier`` in seconds, in SQL (SQLite's julianday rounded to the millisecond,
    so that exactly 20 s is 20 s)."""
    if postgres:
        return sa.extract("epoch", later - earlier)
    return sa.func.round((sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0, 3)


def _at(slot: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(slot * SLOT_SECONDS, dt.UTC)


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.case((condition, 1), else_=0)


def _target_seconds(queues: Sequence[Queue], work: sa.FromClause) -> sa.ColumnElement[Any]:
    """The answer target of a work item's queue and channel, as a SQL ``CASE``."""
    by_channel = sa.case(
        {channel: target.seconds for channel, target in DEFAULT_TARGETS.items()},
        value=work.c.channel,
        else_=OTHER_TARGET.seconds,
    )
    overrides = []
    for queue in queues:
        for channel in sorted((queue.service_targets or {}).keys()):
            target = service_target(queue.service_targets, channel)
            if target.seconds != DEFAULT_TARGETS.get(channel, OTHER_TARGET).seconds:
                condition = sa.and_(work.c.queue_id == queue.id, work.c.channel == channel)
                overrides.append((condition, target.seconds))
    return sa.case(*overrides, else_=by_channel) if overrides else by_channel


def _measures(**given: sa.ColumnElement[Any]) -> list[sa.ColumnElement[Any]]:
    """Every measure in :data:`CONTACT_MEASURES` order: those given, zero for the others."""
    unknown = set(given) - set(CONTACT_MEASURES)
    assert not unknown, unknown
    return [given.get(name, sa.literal(0)).label(name) for name in CONTACT_MEASURES]


def _sources(
    jurisdiction_id: int,
    queues: Sequence[Queue],
    slots: Sequence[int] | None,
    inbound_slots: Sequence[int] | None,
    postgres: bool,
) -> sa.Subquery:
    """One row per contributing work item and call of ``slots``, and inbound interaction of
    ``inbound_slots`` (all of the jurisdiction's when ``None``), each with its slot, queue,
    channel and measures."""
    w = WORK.alias("w")
    c = CALLS.alias("c")
    i = INTERACTIONS.alias("i")

    # Work items: the contacts.
    # Answered when an agent first took it: a transfer assigns it again, but the resident was
    # answered then (the handle time is the finishing agent's, from their assignment).
    answered = w.c.first_assigned_at.is_not(None)
    wait = _seconds(w.c.first_assigned_at, w.c.created_at, postgres)
    abandoned = sa.and_(
        w.c.state == WorkState.CANCELLED.value,
        w.c.first_assigned_at.is_(None),
        w.c.kind.in_([k.value for k in ABANDONING_KINDS]),
    )
    # Every way work is cancelled sets completed_at; updated_at stands in if one ever did not.
    abandon_wait = _seconds(
        sa.func.coalesce(w.c.completed_at, w.c.updated_at), w.c.created_at, postgres
    )
    handled = sa.and_(
        w.c.state == WorkState.COMPLETED.value,
        w.c.assigned_at.is_not(None),
        w.c.completed_at.is_not(None),
    )
    work_slot = _slot(w.c.created_at, postgres)
    work = (
        sa.select(
            work_slot.label("slot"),
            w.c.queue_id.label("queue_id"),
            w.c.channel.label("channel"),
            *_measures(
                offered=sa.literal(1),
                answered=_count(answered),
                answered_in_target=_count(sa.and_(answered, wait <= _target_seconds(queues, w))),
                answer_wait_seconds=sa.case((answered, wait), else_=0),
                abandoned=_count(abandoned),
                abandoned_short=_count(sa.and_(abandoned, abandon_wait < SHORT_ABANDON_SECONDS)),
                abandon_wait_seconds=sa.case((abandoned, abandon_wait), else_=0),
                handled=_count(handled),
                handle_seconds=sa.case(
                    (handled, _seconds(w.c.completed_at, w.c.assigned_at, postgres)), else_=0
                ),
                talk_seconds=sa.case((handled, sa.func.coalesce(c.c.talk_seconds, 0)), else_=0),
                transfers=w.c.transfers,
                resolved_on_contact=_count(sa.and_(handled, w.c.resolved_on_contact.is_(True))),
            ),
        )
        .select_from(
            w.outerjoin(c, sa.and_(c.c.work_item_id == w.c.id, c.c.parent_call_id.is_(None)))
        )
        .where(
            w.c.jurisdiction_id == jurisdiction_id,
            w.c.kind.in_([k.value for k in CONTACT_KINDS]),
            # The same test as the drill-down's, so the figures and their records agree.
            counted_contact(
                kind=w.c.kind,
                state=w.c.state,
                first_assigned_at=w.c.first_assigned_at,
                completed_at=w.c.completed_at,
                created_at=w.c.created_at,
            ),
        )
    )

    # Calls: what the IVR did with each inbound call.
    call_slot = _slot(c.c.created_at, postgres)
    callback = c.c.callback_requested_at.is_not(None)
    calls = sa.select(
        call_slot.label("slot"),
        sa.func.coalesce(c.c.queue_id, 0).label("queue_id"),
        sa.literal(Channel.VOICE.value).label("channel"),
        *_measures(
            ivr_calls=sa.literal(1),
            self_served=_count(c.c.outcome == CallOutcome.SELF_SERVED.value),
            callbacks_requested=_count(callback),
            callbacks_completed=_count(
                sa.and_(callback, c.c.outcome == CallOutcome.ANSWERED.value)
            ),
        ),
    ).where(
        c.c.jurisdiction_id == jurisdiction_id,
        c.c.direction == Direction.INBOUND.value,
        c.c.parent_call_id.is_(None),
    )

    # Inbound interactions, every channel, in no queue.
    inbound_slot = _slot(i.c.created_at, postgres)
    inbound = sa.select(
        inbound_slot.label("slot"),
        sa.literal(0).label("queue_id"),
        i.c.channel.label("channel"),
        *_measures(inbound=sa.literal(1)),
    ).where(i.c.jurisdiction_id == jurisdiction_id, i.c.direction == Direction.INBOUND.value)

    if slots is not None:
        low, high = _at(min(slots)), _at(max(slots) + 1)
        work = work.where(
            # updated_at is never before created_at: it bounds the scan of its index.
            w.c.updated_at >= low,
            w.c.created_at >= low,
            w.c.created_at < high,
            work_slot.in_(slots),
        )
        calls = calls.where(c.c.created_at >= low, c.c.created_at < high, call_slot.in_(slots))
    if inbound_slots is not None and not inbound_slots:
        return sa.union_all(work, calls).subquery("contacts")
    if inbound_slots is not None:
        low, high = _at(min(inbound_slots)), _at(max(inbound_slots) + 1)
        inbound = inbound.where(
            # Processed when received, or soon after: processed_at bounds its index's scan.
            sa.or_(i.c.processed_at >= low, i.c.processed_at.is_(None)),
            i.c.created_at >= low,
            i.c.created_at < high,
            inbound_slot.in_(inbound_slots),
        )
    return sa.union_all(work, calls, inbound).subquery("contacts")


def _insert_intervals(
    session: Session,
    jurisdiction_id: int,
    queues: Sequence[Queue],
    slots: Sequence[int] | None,
    inbound_slots: Sequence[int] | None,
    postgres: bool,
) -> None:
    source = _sources(jurisdiction_id, queues, slots, inbound_slots, postgres)
    sums = [
        sa.cast(sa.func.round(sa.func.sum(source.c[name])), sa.BigInteger).label(name)
        for name in CONTACT_MEASURES
    ]
    query = (
        sa.select(
            sa.literal(jurisdiction_id).label("jurisdiction_id"),
            source.c.slot,
            source.c.queue_id,
            source.c.channel,
            *sums,
        )
        .group_by(source.c.slot, source.c.queue_id, source.c.channel)
        .order_by(source.c.slot, source.c.queue_id, source.c.channel)
    )
    names = ["jurisdiction_id", "slot", "queue_id", "channel", *CONTACT_MEASURES]
    session.execute(sa.insert(INTERVALS).from_select(names, query))


# --- Recompute and rebuild --------------------------------------------------------------------


def _lock(session: Session, jurisdiction_id: int, postgres: bool) -> None:
    if postgres:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(*lock_key(jurisdiction_id))))


def _queues(session: Session, jurisdiction_id: int) -> Sequence[Queue]:
    """The queues with their targets as stored now (sessions keep objects across commits)."""
    query = sa.select(Queue).where(Queue.jurisdiction_id == jurisdiction_id)
    return session.scalars(query.execution_options(populate_existing=True)).all()


def _rebuild(session: Session, jurisdiction_id: int, postgres: bool, now: dt.datetime) -> None:
    session.flush()
    jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
    _lock(session, jurisdiction_id, postgres)
    session.execute(sa.delete(INTERVALS).where(INTERVALS.c.jurisdiction_id == jurisdiction_id))
    session.execute(sa.delete(DAILY).where(DAILY.c.jurisdiction_id == jurisdiction_id))
    queues = _queues(session, jurisdiction_id)
    _insert_intervals(session, jurisdiction_id, queues, None, None, postgres)
    _sum_days(session, jurisdiction, None, postgres)
    rebuild_agent_days(session, jurisdiction, now)


def _recompute(session: Session, jurisdiction_id: int, changed: _Changed, postgres: bool) -> None:
    """Recompute the slots that changed, whole; their inbound messages only where some were
    processed since the last pass (elsewhere the counts are kept: the messages are the
    largest source, and an old contact answered today must not make the pass read every
    message since)."""
    jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
    _lock(session, jurisdiction_id, postgres)
    queues = _queues(session, jurisdiction_id)
    for cluster in _clusters(sorted(changed.slots), CLUSTER_GAP):
        inbound_slots = [slot for slot in cluster if slot in changed.inbound_slots]
        kept_slots = [slot for slot in cluster if slot not in changed.inbound_slots]
        kept = _kept_inbound(session, jurisdiction_id, kept_slots)
        session.execute(
            sa.delete(INTERVALS).where(
                INTERVALS.c.jurisdiction_id == jurisdiction_id, INTERVALS.c.slot.in_(cluster)
            )
        )
        _insert_intervals(session, jurisdiction_id, queues, cluster, inbound_slots, postgres)
        if kept:
            insert = (postgresql.insert if postgres else sqlite.insert)(INTERVALS)
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=["jurisdiction_id", "slot", "queue_id", "channel"],
                    set_={"inbound": insert.excluded.inbound},
                ),
                kept,
            )
    zone = zone_of(jurisdiction.timezone)
    days = sorted({_at(slot).astimezone(zone).date() for slot in changed.slots})
    _sum_days(session, jurisdiction, days, postgres)


def _kept_inbound(
    session: Session, jurisdiction_id: int, slots: Sequence[int]
) -> list[dict[str, Any]]:
    """The inbound counts of ``slots`` as they are (they live in queue 0's rows)."""
    if not slots:
        return []
    rows = session.execute(
        sa.select(INTERVALS.c.slot, INTERVALS.c.channel, INTERVALS.c.inbound).where(
            INTERVALS.c.jurisdiction_id == jurisdiction_id,
            INTERVALS.c.slot.in_(slots),
            INTERVALS.c.queue_id == 0,
            INTERVALS.c.inbound != 0,
        )
    )
    return [
        {
            "jurisdiction_id": jurisdiction_id,
            "slot": slot,
            "queue_id": 0,
            "channel": channel,
            "inbound": inbound,
        }
        for slot, channel, inbound in rows
    ]


def _clusters(values: Sequence[int], gap: int) -> Iterable[list[int]]:
    """Sorted ``values`` cut where two neighbours are more than ``gap`` apart (or a cluster
    reaches :data:`CLUSTER_SIZE`)."""
    cluster: list[int] = []
    for value in values:
        if cluster and (value - cluster[-1] > gap or len(cluster) >= CLUSTER_SIZE):
            yield cluster
            cluster = []
        cluster.append(value)
    if cluster:
        yield cluster


def _day_slots(day: dt.date, zone: dt.tzinfo) -> tuple[int, int]:
    """The slots of a local day: [its midnight's, the next midnight's) — 92, 96 or 100 of
    them across DST changes."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return int(start.timestamp()) // SLOT_SECONDS, int(end.timestamp()) // SLOT_SECONDS


def _sum_days(
    session: Session, jurisdiction: Jurisdiction, days: Sequence[dt.date] | None, postgres: bool
) -> None:
    """Sum the intervals into local days (``days``, or all of them): the daily rows are
    replaced by the sums of the slots from each local midnight to the next. One
    ``INSERT ... SELECT`` per run of consecutive days on PostgreSQL (``AT TIME ZONE``); on
    SQLite, which knows no time zones, the slots are summed here."""
    zone = zone_of(jurisdiction.timezone)
    j = jurisdiction.id
    ranges: list[tuple[int, int] | None] = [None]
    if days is not None:
        ranges = []
        for cluster in _clusters(sorted({d.toordinal() for d in days}), 1):
            low = _day_slots(dt.date.fromordinal(cluster[0]), zone)[0]
            high = _day_slots(dt.date.fromordinal(cluster[-1]), zone)[1]
            ranges.append((low, high))
        session.execute(
            sa.delete(DAILY).where(DAILY.c.jurisdiction_id == j, DAILY.c.day.in_(sorted(set(days))))
        )
    for bounds in ranges:
        where = [INTERVALS.c.jurisdiction_id == j]
        if bounds is not None:
            where += [INTERVALS.c.slot >= bounds[0], INTERVALS.c.slot < bounds[1]]
        if postgres:
            _sum_days_in_sql(session, jurisdiction, where, days)
        else:
            _sum_days_here(session, jurisdiction, where, days)


def _sum_days_in_sql(
    session: Session,
    jurisdiction: Jurisdiction,
    where: list[sa.ColumnElement[bool]],
    days: Sequence[dt.date] | None,
) -> None:
    timezone = jurisdiction.timezone or "UTC"
    timezone = "UTC" if zone_of(timezone) is dt.UTC else timezone  # as Python reads it
    day = sa.cast(
        sa.func.timezone(timezone, sa.func.to_timestamp(INTERVALS.c.slot * SLOT_SECONDS)), sa.Date
    )
    if days is not None:
        where = [*where, day.in_(sorted(set(days)))]
    query = (
        sa.select(
            sa.literal(jurisdiction.id).label("jurisdiction_id"),
            day.label("day"),
            INTERVALS.c.queue_id,
            INTERVALS.c.channel,
            *[sa.func.sum(INTERVALS.c[name]).label(name) for name in CONTACT_MEASURES],
        )
        .where(*where)
        .group_by(day, INTERVALS.c.queue_id, INTERVALS.c.channel)
        .order_by(day, INTERVALS.c.queue_id, INTERVALS.c.channel)
    )
    names = ["jurisdiction_id", "day", "queue_id", "channel", *CONTACT_MEASURES]
    session.execute(sa.insert(DAILY).from_select(names, query))


def _sum_days_here(
    session: Session,
    jurisdiction: Jurisdiction,
    where: list[sa.ColumnElement[bool]],
    days: Sequence[dt.date] | None,
) -> None:
    zone = zone_of(jurisdiction.timezone)
    columns = [INTERVALS.c[name] for name in CONTACT_MEASURES]
    query = sa.select(INTERVALS.c.slot, INTERVALS.c.queue_id, INTERVALS.c.channel, *columns)
    wanted = None if days is None else set(days)
    sums: defaultdict[tuple[dt.date, int, str], list[int]] = defaultdict(
        lambda: [0] * len(CONTACT_MEASURES)
    )
    day_of: dict[int, dt.date] = {}
    for slot, queue_id, channel, *values in session.execute(
        query.where(*where).execution_options(yield_per=10000)
    ):
        day = day_of.get(slot)
        if day is None:
            day = day_of[slot] = _at(slot).astimezone(zone).date()
        if wanted is not None and day not in wanted:
            continue
        row = sums[(day, queue_id, str(channel))]
        for index, value in enumerate(values):
            row[index] += value or 0
    rows = [
        {
            "jurisdiction_id": jurisdiction.id,
            "day": day,
            "queue_id": queue_id,
            "channel": channel,
            **dict(zip(CONTACT_MEASURES, values, strict=True)),
        }
        for (day, queue_id, channel), values in sorted(sums.items())
    ]
    for start in range(0, len(rows), 5000):
        session.execute(sa.insert(DAILY), rows[start : start + 5000])


# --- What changed -----------------------------------------------------------------------------


@dataclass
class _Changed:
    """The slots of one jurisdiction to recompute, and those of them whose inbound messages
    changed."""

    slots: set[int] = field(default_factory=set)
    inbound_slots: set[int] = field(default_factory=set)


def _changed_slots(
    session: Session, since: dt.datetime, postgres: bool, jurisdiction_ids: Sequence[int]
) -> dict[int, _Changed]:
    """The slots, by jurisdiction, whose sources changed at or after ``since`` (one query)."""
    w = WORK.alias("w")
    c = CALLS.alias("c")
    i = INTERACTIONS.alias("i")
    if not jurisdiction_ids:
        return {}
    kinds = [k.value for k in CONTACT_KINDS]
    work_changed = sa.and_(w.c.updated_at >= since, w.c.kind.in_(kinds))
    call_changed = sa.and_(
        # (jurisdiction_id, created_at) is the calls' index; updated_at has none.
        c.c.jurisdiction_id.in_(jurisdiction_ids),
        c.c.created_at >= since - CALL_HORIZON,
        c.c.updated_at >= since,
    )
    contact, message = sa.literal(0).label("inbound"), sa.literal(1).label("inbound")
    queries = [
        sa.select(w.c.jurisdiction_id, _slot(w.c.created_at, postgres), contact).where(
            work_changed
        ),
        sa.select(c.c.jurisdiction_id, _slot(c.c.created_at, postgres), contact)
        .select_from(w.join(c, c.c.work_item_id == w.c.id))
        .where(work_changed),
        sa.select(c.c.jurisdiction_id, _slot(c.c.created_at, postgres), contact).where(
            call_changed
        ),
        sa.select(w.c.jurisdiction_id, _slot(w.c.created_at, postgres), contact)
        .select_from(c.join(w, w.c.id == c.c.work_item_id))
        .where(call_changed),
        sa.select(i.c.jurisdiction_id, _slot(i.c.created_at, postgres), message).where(
            i.c.direction == Direction.INBOUND.value, i.c.processed_at >= since
        ),
    ]
    changed: defaultdict[int, _Changed] = defaultdict(_Changed)
    for jurisdiction_id, slot, inbound in session.execute(sa.union(*queries)):
        entry = changed[int(jurisdiction_id)]
        entry.slots.add(int(slot))
        if inbound:
            entry.inbound_slots.add(int(slot))
    return dict(changed)
