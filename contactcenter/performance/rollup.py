"""Keeping the performance rollups current as cases change, and rebuilding them from the cases.

Every change to a case reaches the database through a flush, so the rollups follow the ORM's
session events instead of the many code paths that change cases (intake on every channel,
console edits, status changes, merges, Open311 submissions):

- ``after_flush``: for each new, changed or deleted :class:`Case`, the old contribution (from
  the attributes' history) is taken away and the new one added, as deltas kept on the session;
- ``before_commit``: the transaction's deltas are written as upserts
  (``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n``, PostgreSQL and SQLite alike),
  in key order, once. Writing at commit rather than at each flush keeps the row lock on a busy
  row (today's totals) for the commit only, not for the whole intake, and the same key order
  in every transaction means two of them never deadlock on these rows;
- a rolled-back transaction or savepoint drops the deltas its flushes recorded.

Statements that bypass the ORM's unit of work (bulk ``insert``/``update`` of cases, raw SQL)
bypass this too. After a bulk ``INSERT`` of new cases, call :func:`apply_inserted` with their
ids in the same transaction (the import does, per batch): it adds just their contributions,
set-based on PostgreSQL. After anything else (bulk updates, deletes, a time zone change), call
:func:`rebuild`.

Concurrency (PostgreSQL): each jurisdiction's figures have an advisory lock (:func:`lock_key`).
:func:`rebuild` takes it exclusively for its transaction; the commit-time upserts and
:func:`apply_inserted` take it shared (all the jurisdictions they write, in id order, in the
upsert statement itself). A rebuild therefore waits for the commits of that jurisdiction that
are writing their deltas and holds back new ones until it commits, so each case is counted
exactly once: either the rebuild's statements see it committed, or its deltas are added to
the rebuilt rows afterwards. Other jurisdictions never wait, and readers never do. Rebuild one
jurisdiction per transaction (the command commits after each): holding two jurisdictions'
locks exclusively could deadlock with a commit that writes both.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, SessionTransaction

from contactcenter.cases.models import OPEN_STATUSES, Case, CaseStatus, DuplicateStatus
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.models import CloseTimeByCount, CloseTimeCount, DailyCount

CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)

# Time-to-close buckets: whole hours for the first two days, whole days up to a year, then one
# bucket for everything longer. Buckets 0-47 are hours [h, h+1); 48-410 are days [d, d+1) for
# d = bucket - 46 (2..364); 411 is a year or more.
HOUR_BUCKETS = 48
OVERFLOW_BUCKET = 411
TWO_DAYS = 2 * 86400
ONE_YEAR = 365 * 86400

PUBLIC_DIMENSIONS = ("all", "service_type", "channel", "district")
"""The dimensions the public pages show (departments are for staff)."""
DIMENSIONS = (*PUBLIC_DIMENSIONS, "department")
COUNTS = (
    "opened",
    "closed",
    "closed_with_target",
    "closed_on_time",
    "open_now",
    "duplicates",
    "sla_breached",
    "reopened",
    "sat_responses",
    "sat_score_sum",
    "sat_satisfied",
)
"""The sums of a daily row, in :class:`Deltas`' order. ``opened``, ``open_now``,
``duplicates`` and ``sla_breached`` count on the day a case was created; the others on the
day it closed (so a reopened case's answers leave the figures until it closes again)."""
(OPENED, CLOSED, WITH_TARGET, ON_TIME, OPEN_NOW, DUPLICATES, BREACHED, REOPENED) = range(8)
(SAT_RESPONSES, SAT_SCORE_SUM, SAT_SATISFIED) = range(8, 11)
SATISFIED_FROM = 4
"""A satisfaction answer of 4 or 5 (of 1 to 5) counts as satisfied."""
BY_DIMENSIONS = ("department", "district")
"""The breakdowns with their own time-to-close histogram (``performance_close_times_by``);
the service type's is ``performance_close_times``, the channel has none."""

TRACKED = (
    "jurisdiction_id",
    "created_at",
    "status",
    "resolved_at",
    "closed_at",
    "due_at",
    "service_type_id",
    "origin_channel",
    "district",
    "department_id",
    "reopened_count",
    "sla_breached",
    "satisfaction",
    "duplicate_status",
)
"""The case attributes the figures depend on; a change to any other one changes nothing."""

LOCK_NAMESPACE = 0x70657266
"""The first key of the figures' advisory locks ("perf"); the second is the jurisdiction id
(the two-key lock space is distinct from the single-key locks used elsewhere)."""

DailyKey = tuple[int, str, dt.date, str]
HistogramKey = tuple[int, dt.date, int, int]
HistogramByKey = tuple[int, dt.date, str, str, int]


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a time to close given in seconds (negative counts as zero)."""
    if seconds < TWO_DAYS:
        return max(int(seconds // 3600), 0)
    if seconds < ONE_YEAR:
        return 46 + int(seconds // 86400)
    return OVERFLOW_BUCKET


def bucket_upper_days(bucket: int) -> float | None:
    """The upper edge of a bucket in days (what a percentile falling in it is reported as);
    ``None`` for the overflow bucket, which has no upper edge."""
    if bucket < HOUR_BUCKETS:
        return (bucket + 1) / 24
    if bucket < OVERFLOW_BUCKET:
        return float(bucket - 45)
    return None


def zone_of(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@dataclass(frozen=True)
class CaseFacts:
    """What the figures need to know about one case."""

    jurisdiction_id: int | None
    created_at: dt.datetime | None
    status: str | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    due_at: dt.datetime | None
    service_type_id: int | None
    origin_channel: str | None
    district: str | None
    department_id: int | None = None
    reopened_count: int | None = 0
    sla_breached: bool | None = False
    satisfaction: int | None = None
    duplicate_status: str | None = None

    @property
    def done_at(self) -> dt.datetime | None:
        """When the case closed (resolved, or else closed); ``None`` while it is open."""
        if self.status not in CLOSED_STATUSES:
            return None
        return self.resolved_at or self.closed_at


class Deltas:
    """Changes to rollup rows, summed by key."""

    def __init__(self) -> None:
        self.daily: defaultdict[DailyKey, list[int]] = defaultdict(lambda: [0] * len(COUNTS))
        self.histogram: defaultdict[HistogramKey, int] = defaultdict(int)
        self.histogram_by: defaultdict[HistogramByKey, int] = defaultdict(int)

    def add(self, facts: CaseFacts, zone: dt.tzinfo, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) one case's contribution."""
        jurisdiction_id, created_at = facts.jurisdiction_id, facts.created_at
        if jurisdiction_id is None or created_at is None:
            return
        values = (
            ("all", ""),
            ("service_type", "" if facts.service_type_id is None else str(facts.service_type_id)),
            ("channel", str(facts.origin_channel or "")),
            ("district", facts.district or ""),
            ("department", "" if facts.department_id is None else str(facts.department_id)),
        )
        created_day = created_at.astimezone(zone).date()
        is_open = facts.status in OPEN_STATUSES
        duplicate = facts.duplicate_status == DuplicateStatus.CONFIRMED
        breached = bool(facts.sla_breached)
        for dimension, value in values:
            row = self.daily[(jurisdiction_id, dimension, created_day, value)]
            row[OPENED] += sign
            row[OPEN_NOW] += sign * is_open
            row[DUPLICATES] += sign * duplicate
            row[BREACHED] += sign * breached
        done_at = facts.done_at
        if done_at is None:
            return
        closed_day = done_at.astimezone(zone).date()
        with_target = facts.due_at is not None
        on_time = facts.due_at is not None and done_at <= facts.due_at
        reopened = (facts.reopened_count or 0) > 0
        score = facts.satisfaction
        for dimension, value in values:
            row = self.daily[(jurisdiction_id, dimension, closed_day, value)]
            row[CLOSED] += sign
            row[WITH_TARGET] += sign * with_target
            row[ON_TIME] += sign * on_time
            row[REOPENED] += sign * reopened
            if score is not None:
                row[SAT_RESPONSES] += sign
                row[SAT_SCORE_SUM] += sign * score
                row[SAT_SATISFIED] += sign * (score >= SATISFIED_FROM)
        bucket = bucket_of((done_at - created_at).total_seconds())
        month = closed_day.replace(day=1)
        self.histogram[(jurisdiction_id, month, facts.service_type_id or 0, bucket)] += sign
        for dimension, value in values[3:]:
            self.histogram_by[(jurisdiction_id, month, dimension, value, bucket)] += sign

    def merge(self, other: Deltas) -> None:
        for key, counts in other.daily.items():
            row = self.daily[key]
            for i, n in enumerate(counts):
                row[i] += n
        for hkey, n in other.histogram.items():
            self.histogram[hkey] += n
        for bkey, n in other.histogram_by.items():
            self.histogram_by[bkey] += n

    def forget(self, jurisdiction_id: int) -> None:
        for key in [k for k in self.daily if k[0] == jurisdiction_id]:
            del self.daily[key]
        for hkey in [k for k in self.histogram if k[0] == jurisdiction_id]:
            del self.histogram[hkey]
        for bkey in [k for k in self.histogram_by if k[0] == jurisdiction_id]:
            del self.histogram_by[bkey]

    def jurisdiction_ids(self) -> list[int]:
        ids = {k[0] for k, counts in self.daily.items() if any(counts)}
        ids.update(k[0] for k, n in self.histogram.items() if n)
        ids.update(k[0] for k, n in self.histogram_by.items() if n)
        return sorted(ids)

    def daily_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "jurisdiction_id": key[0],
                "dimension": key[1],
                "day": key[2],
                "value": key[3],
                **dict(zip(COUNTS, counts, strict=True)),
            }
            for key, counts in sorted(self.daily.items())
            if any(counts)
        ]

    def histogram_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "jurisdiction_id": key[0],
                "month": key[1],
                "service_type_id": key[2],
                "bucket": key[3],
                "cases": n,
            }
            for key, n in sorted(self.histogram.items())
            if n
        ]

    def histogram_by_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "jurisdiction_id": key[0],
                "month": key[1],
                "dimension": key[2],
                "value": key[3],
                "bucket": key[4],
                "cases": n,
            }
            for key, n in sorted(self.histogram_by.items())
            if n
        ]


# --- Session events ---------------------------------------------------------------------------

_PENDING = "performance_pending"
_COMMITTING = "performance_committing"


def install_rollup_hooks() -> None:
    """Listen on every Session and on the case attributes, once per process (idempotent)."""
    if event.contains(Session, "after_flush", _after_flush):
        return
    for name in TRACKED:
        # The old value must be known when an attribute is replaced, even one not loaded.
        event.listen(getattr(Case, name), "set", _keep_old_value, active_history=True)
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    event.listen(Session, "after_transaction_end", _after_transaction_end)


def _keep_old_value(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    return value


def _facts_now(case: Case) -> CaseFacts:
    return CaseFacts(*(getattr(case, name) for name in TRACKED))


def _facts_before(case: Case) -> CaseFacts:
    state = sa.inspect(case)
    values = []
    for name in TRACKED:
        history = state.attrs[name].history
        if history.added:
            values.append(history.deleted[0] if history.deleted else None)
        elif history.unchanged:
            values.append(history.unchanged[0])
        else:
            values.append(getattr(case, name))
    return CaseFacts(*values)


def _changed(case: Case) -> bool:
    attrs = sa.inspect(case).attrs
    return any(attrs[name].history.has_changes() for name in TRACKED)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """A deleted case's values are read now: after its DELETE they could not be loaded."""
    for obj in session.deleted:
        if isinstance(obj, Case):
            for name in TRACKED:
                getattr(obj, name)


def _after_flush(session: Session, _context: Any) -> None:
    changes: list[tuple[CaseFacts, int]] = []
    for obj in session.new:
        if isinstance(obj, Case):
            changes.append((_facts_now(obj), 1))
    for obj in session.dirty:
        if isinstance(obj, Case) and _changed(obj):
            changes.append((_facts_before(obj), -1))
            changes.append((_facts_now(obj), 1))
    for obj in session.deleted:
        if isinstance(obj, Case):
            changes.append((_facts_before(obj), -1))
    if not changes:
        return
    deltas = Deltas()
    zones: dict[int, dt.tzinfo] = {}
    for facts, sign in changes:
        if facts.jurisdiction_id is None:
            continue
        if facts.jurisdiction_id not in zones:
            jurisdiction = session.get(Jurisdiction, facts.jurisdiction_id)
            zones[facts.jurisdiction_id] = zone_of(jurisdiction.timezone if jurisdiction else "")
        deltas.add(facts, zones[facts.jurisdiction_id], sign)
    if session.info.get(_COMMITTING):
        _write(session, deltas)  # a flush during the commit itself, after our before_commit
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    lineage: list[SessionTransaction] = []
    while transaction is not None:
        lineage.append(transaction)
        transaction = transaction.parent
    session.info.setdefault(_PENDING, []).append((tuple(lineage), deltas))


def _before_commit(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint is released: its deltas wait for the real commit
    session.flush()
    pending = session.info.pop(_PENDING, [])
    session.info[_COMMITTING] = True
    if pending:
        total = Deltas()
        for _lineage, deltas in pending:
            total.merge(deltas)
        _write(session, total)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [entry for entry in pending if previous not in entry[0]]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_COMMITTING, None)


def _upsert(session: Session, table: sa.Table, keys: Iterable[str]) -> Any:
    statement = sqlite.insert(table)
    keys = list(keys)
    counts = [c.name for c in table.columns if c.name not in keys]
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: table.c[name] + statement.excluded[name] for name in counts},
    )


DAILY_TABLE: sa.Table = DailyCount.__table__  # type: ignore[assignment]
HISTOGRAM_TABLE: sa.Table = CloseTimeCount.__table__  # type: ignore[assignment]
HISTOGRAM_BY_TABLE: sa.Table = CloseTimeByCount.__table__  # type: ignore[assignment]
DAILY_KEY = ("jurisdiction_id", "dimension", "day", "value")
HISTOGRAM_KEY = ("jurisdiction_id", "month", "service_type_id", "bucket")
HISTOGRAM_BY_KEY = ("jurisdiction_id", "month", "dimension", "value", "bucket")


def lock_key(jurisdiction_id: int) -> tuple[int, int]:
    """The advisory lock (two keys) guarding one jurisdiction's figures on PostgreSQL."""
    return (LOCK_NAMESPACE, jurisdiction_id)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _write(session: Session, deltas: Deltas) -> None:
    connection = session.connection()
    tables = (
        (deltas.daily_rows(), DAILY_TABLE, DAILY_KEY, _PG_DAILY_UPSERT),
        (deltas.histogram_rows(), HISTOGRAM_TABLE, HISTOGRAM_KEY, _PG_HISTOGRAM_UPSERT),
        (deltas.histogram_by_rows(), HISTOGRAM_BY_TABLE, HISTOGRAM_BY_KEY, _PG_HISTOGRAM_BY_UPSERT),
    )
    if _is_postgres(session):
        # One statement per table, whatever the number of rows: the rows go in as arrays,
        # and the statement first takes the shared advisory lock of each jurisdiction it
        # writes (see the module's docstring), so this costs no statement more.
        locks = {"locked": deltas.jurisdiction_ids()}
        for rows, table, _key, statement in tables:
            if rows:
                columns = {c.name: [row[c.name] for row in rows] for c in table.columns}
                connection.execute(statement, {**locks, **columns})
        return
    for rows, table, key, _statement in tables:
        if rows:
            connection.execute(_upsert(session, table, key), rows)


_MERGE_DAILY = "ON CONFLICT (jurisdiction_id, dimension, day, value) DO UPDATE SET " + ", ".join(
    f"{n} = performance_daily.{n} + excluded.{n}" for n in COUNTS
)
_MERGE_HISTOGRAM = """ON CONFLICT (jurisdiction_id, month, service_type_id, bucket) DO UPDATE SET
        cases = performance_close_times.cases + excluded.cases"""
_MERGE_HISTOGRAM_BY = """ON CONFLICT (jurisdiction_id, month, dimension, value, bucket)
        DO UPDATE SET cases = performance_close_times_by.cases + excluded.cases"""

# Shared locks of the jurisdictions written, in id order, before the first row is inserted (the
# scalar subquery is an init plan, run once, at the first row); then the rows, in key order.
_SHARED_LOCKS = f"""
    WITH locks AS MATERIALIZED (
        SELECT pg_advisory_xact_lock_shared({LOCK_NAMESPACE}, j)
        FROM (SELECT DISTINCT unnest(CAST(:locked AS int[])) AS j ORDER BY 1) AS ids
    )
"""  # noqa: S608 - only our own constants are interpolated

_COUNT_NAMES = ", ".join(COUNTS)
_COUNT_ARRAYS = ", ".join(f"CAST(:{n} AS int[])" for n in COUNTS)
_COUNT_SUMS = ", ".join(f"sum(ev.{n})" for n in COUNTS)

_DAILY_UNNEST = f"""
    INSERT INTO performance_daily (jurisdiction_id, dimension, day, value, {_COUNT_NAMES})
    SELECT * FROM unnest(CAST(:jurisdiction_id AS int[]), CAST(:dimension AS text[]),
                         CAST(:day AS date[]), CAST(:value AS text[]), {_COUNT_ARRAYS})
    WHERE (SELECT count(*) FROM locks) IS NOT NULL
"""  # noqa: S608 - only our own constants are interpolated
_PG_DAILY_UPSERT = sa.text(_SHARED_LOCKS + _DAILY_UNNEST + _MERGE_DAILY)

_PG_HISTOGRAM_UPSERT = sa.text(
    _SHARED_LOCKS  # noqa: S608 - only our own constants
    + """
    INSERT INTO performance_close_times (jurisdiction_id, month, service_type_id, bucket, cases)
    SELECT * FROM unnest(CAST(:jurisdiction_id AS int[]), CAST(:month AS date[]),
                         CAST(:service_type_id AS int[]), CAST(:bucket AS smallint[]),
                         CAST(:cases AS int[]))
    WHERE (SELECT count(*) FROM locks) IS NOT NULL
    """
    + _MERGE_HISTOGRAM
)

_PG_HISTOGRAM_BY_UPSERT = sa.text(
    _SHARED_LOCKS  # noqa: S608 - only our own constants
    + """
    INSERT INTO performance_close_times_by (jurisdiction_id, month, dimension, value, bucket,
                                            cases)
    SELECT * FROM unnest(CAST(:jurisdiction_id AS int[]), CAST(:month AS date[]),
                         CAST(:dimension AS text[]), CAST(:value AS text[]),
                         CAST(:bucket AS smallint[]), CAST(:cases AS int[]))
    WHERE (SELECT count(*) FROM locks) IS NOT NULL
    """
    + _MERGE_HISTOGRAM_BY
)


# --- Rebuild ----------------------------------------------------------------------------------


def rebuild(session: Session, jurisdiction_id: int) -> None:
    """Recompute one jurisdiction's rollups from its cases (does not commit).

    For what bypasses the ORM (bulk updates, raw SQL), or after a jurisdiction's time zone
    changes. On PostgreSQL it is three ``INSERT ... SELECT ... GROUP BY`` statements over the
    cases (the daily counts and the two time-to-close histograms), under the jurisdiction's
    advisory lock taken exclusively: commits that change this jurisdiction's cases wait to
    write their deltas until the rebuild commits (so a case committed concurrently is
    counted exactly once); other jurisdictions and readers go on. SQLite (the embedded mode,
    one writer at a time) has no time zones in SQL: there the cases are streamed through the
    same code as the session events.
    """
    session.flush()
    for _lineage, deltas in session.info.get(_PENDING, []):
        deltas.forget(jurisdiction_id)  # what the rebuild reads already includes them
    jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
    postgres = _is_postgres(session)
    if postgres:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(*lock_key(jurisdiction_id))))
    session.execute(sa.delete(DailyCount).where(DailyCount.jurisdiction_id == jurisdiction_id))
    for model in (CloseTimeCount, CloseTimeByCount):
        session.execute(sa.delete(model).where(model.jurisdiction_id == jurisdiction_id))
    if postgres:
        session.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        params = {"j": jurisdiction_id, "tz": _sql_timezone(jurisdiction)}
        session.execute(_REBUILD_DAILY, params)
        session.execute(_REBUILD_HISTOGRAM, params)
        session.execute(_REBUILD_HISTOGRAM_BY, params)
    else:
        _rebuild_by_streaming(session, jurisdiction)


def apply_inserted(session: Session, jurisdiction_id: int, case_ids: Sequence[int]) -> None:
    """Add the contributions of cases just inserted by bulk statements (does not commit).

    Bulk ``INSERT``s bypass the session events; a bulk import calls this per batch, in the
    batch's transaction, with the ids of the cases it inserted (none already counted: ids of
    cases inserted through the ORM would be counted twice). On PostgreSQL it is the rebuild's
    statements restricted to those ids, merged into the rows with ``ON CONFLICT DO UPDATE``,
    under the jurisdiction's lock taken shared (as commits take it); on SQLite the cases go
    through the same code as the session events.
    """
    ids = sorted({int(i) for i in case_ids})
    if not ids:
        return
    jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
    if _is_postgres(session):
        session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(*lock_key(jurisdiction_id))))
        params = {"j": jurisdiction_id, "tz": _sql_timezone(jurisdiction), "ids": ids}
        session.execute(_APPLY_DAILY, params)
        session.execute(_APPLY_HISTOGRAM, params)
        session.execute(_APPLY_HISTOGRAM_BY, params)
        return
    zone = zone_of(jurisdiction.timezone)
    deltas = Deltas()
    columns = [getattr(Case, name) for name in TRACKED]
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        query = sa.select(*columns).where(
            Case.jurisdiction_id == jurisdiction_id, Case.id.in_(chunk)
        )
        for row in session.execute(query):
            deltas.add(CaseFacts(*row), zone, 1)
    _write(session, deltas)


def _sql_timezone(jurisdiction: Jurisdiction) -> str:
    """The zone name PostgreSQL is given: the jurisdiction's, or UTC when Python (and so the
    session events) does not know it."""
    timezone = jurisdiction.timezone or "UTC"
    return "UTC" if zone_of(timezone) is dt.UTC else timezone


def _rebuild_by_streaming(session: Session, jurisdiction: Jurisdiction) -> None:
    zone = zone_of(jurisdiction.timezone)
    deltas = Deltas()
    for facts in _facts_of_cases(session, jurisdiction.id):
        deltas.add(facts, zone, 1)
    connection = session.connection()
    for rows, table in (
        (deltas.daily_rows(), DAILY_TABLE),
        (deltas.histogram_rows(), HISTOGRAM_TABLE),
        (deltas.histogram_by_rows(), HISTOGRAM_BY_TABLE),
    ):
        for start in range(0, len(rows), 5000):
            connection.execute(sa.insert(table), rows[start : start + 5000])


def _facts_of_cases(session: Session, jurisdiction_id: int) -> Iterator[CaseFacts]:
    columns = [getattr(Case, name) for name in TRACKED]
    result = session.execute(
        sa.select(*columns)
        .where(Case.jurisdiction_id == jurisdiction_id)
        .execution_options(yield_per=10000)
    )
    for row in result:
        yield CaseFacts(*row)


_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
_CLOSED = ", ".join(f"'{s}'" for s in CLOSED_STATUSES)

# One pass over the jurisdiction's cases: each case is one "opened" event on its created day
# and, when closed, one "closed" event on its closing day; GROUPING SETS sum them by day for
# each dimension at once. Rows go in in key order, so that a period's rows share few pages.
# The events' columns are COUNTS, in order.
_DAILY_SQL = f"""
    INSERT INTO performance_daily (jurisdiction_id, dimension, day, value, {_COUNT_NAMES})
    SELECT :j,
           CASE WHEN GROUPING(c.st) = 0 THEN 'service_type'
                WHEN GROUPING(c.ch) = 0 THEN 'channel'
                WHEN GROUPING(c.di) = 0 THEN 'district'
                WHEN GROUPING(c.de) = 0 THEN 'department' ELSE 'all' END,
           ev.day,
           CASE WHEN GROUPING(c.st) = 0 THEN c.st
                WHEN GROUPING(c.ch) = 0 THEN c.ch
                WHEN GROUPING(c.di) = 0 THEN c.di
                WHEN GROUPING(c.de) = 0 THEN c.de ELSE '' END,
           {_COUNT_SUMS}
    FROM (
        SELECT created_at,
               CASE WHEN status IN ({_CLOSED}) THEN coalesce(resolved_at, closed_at) END
                   AS done_at,
               due_at,
               CASE WHEN status IN ({_OPEN}) THEN 1 ELSE 0 END AS is_open,
               CASE WHEN duplicate_status = '{DuplicateStatus.CONFIRMED}' THEN 1 ELSE 0 END
                   AS is_duplicate,
               CASE WHEN sla_breached THEN 1 ELSE 0 END AS is_breached,
               CASE WHEN reopened_count > 0 THEN 1 ELSE 0 END AS was_reopened,
               satisfaction,
               coalesce(service_type_id::text, '') AS st,
               origin_channel::text AS ch,
               coalesce(district, '') AS di,
               coalesce(department_id::text, '') AS de
        FROM cases
        WHERE jurisdiction_id = :j {{only}}
    ) AS c
    CROSS JOIN LATERAL (VALUES
        ((c.created_at AT TIME ZONE :tz)::date, 1, 0, 0, 0, c.is_open, c.is_duplicate,
         c.is_breached, 0, 0, 0, 0),
        ((c.done_at AT TIME ZONE :tz)::date, 0, 1,
         CASE WHEN c.due_at IS NOT NULL THEN 1 ELSE 0 END,
         CASE WHEN c.done_at <= c.due_at THEN 1 ELSE 0 END, 0, 0, 0, c.was_reopened,
         CASE WHEN c.satisfaction IS NOT NULL THEN 1 ELSE 0 END, coalesce(c.satisfaction, 0),
         CASE WHEN c.satisfaction >= {SATISFIED_FROM} THEN 1 ELSE 0 END)
    ) AS ev (day, {_COUNT_NAMES})
    WHERE ev.day IS NOT NULL
    GROUP BY GROUPING SETS ((ev.day), (ev.day, c.st), (ev.day, c.ch), (ev.day, c.di),
                            (ev.day, c.de))
    ORDER BY 2, 3, 4
    {{merge}}
"""  # noqa: S608 - only our own constants are interpolated

# The closed cases with their local closing month and time-to-close bucket, for both histograms.
_BUCKETED = f"""
        SELECT date_trunc('month', done_at AT TIME ZONE :tz)::date AS month,
               coalesce(service_type_id, 0) AS st,
               coalesce(department_id::text, '') AS de,
               coalesce(district, '') AS di,
               (CASE WHEN s < {TWO_DAYS} THEN greatest(floor(s / 3600), 0)
                     WHEN s < {ONE_YEAR} THEN 46 + floor(s / 86400)
                     ELSE {OVERFLOW_BUCKET} END)::int AS bucket
        FROM (
            SELECT coalesce(resolved_at, closed_at) AS done_at, service_type_id, department_id,
                   district,
                   extract(epoch FROM coalesce(resolved_at, closed_at) - created_at) AS s
            FROM cases
            WHERE jurisdiction_id = :j AND status IN ({_CLOSED})
              AND coalesce(resolved_at, closed_at) IS NOT NULL {{only}}
        ) AS closed_cases
"""  # noqa: S608 - only our own constants are interpolated

_HISTOGRAM_SQL = f"""
    INSERT INTO performance_close_times (jurisdiction_id, month, service_type_id, bucket, cases)
    SELECT :j, month, st, bucket, count(*)
    FROM ({_BUCKETED}) AS bucketed
    GROUP BY month, st, bucket
    ORDER BY month, st, bucket
    {{merge}}
"""  # noqa: S608 - only our own constants are interpolated

_HISTOGRAM_BY_SQL = f"""
    INSERT INTO performance_close_times_by (jurisdiction_id, month, dimension, value, bucket,
                                            cases)
    SELECT :j, month, CASE WHEN GROUPING(de) = 0 THEN 'department' ELSE 'district' END,
           CASE WHEN GROUPING(de) = 0 THEN de ELSE di END, bucket, count(*)
    FROM ({_BUCKETED}) AS bucketed
    GROUP BY GROUPING SETS ((month, de, bucket), (month, di, bucket))
    ORDER BY 2, 3, 4, 5
    {{merge}}
"""  # noqa: S608 - only our own constants are interpolated

_ONLY_IDS = "AND id = ANY(CAST(:ids AS int[]))"
_REBUILD_DAILY = sa.text(_DAILY_SQL.format(only="", merge=""))
_REBUILD_HISTOGRAM = sa.text(_HISTOGRAM_SQL.format(only="", merge=""))
_REBUILD_HISTOGRAM_BY = sa.text(_HISTOGRAM_BY_SQL.format(only="", merge=""))
_APPLY_DAILY = sa.text(_DAILY_SQL.format(only=_ONLY_IDS, merge=_MERGE_DAILY))
_APPLY_HISTOGRAM = sa.text(_HISTOGRAM_SQL.format(only=_ONLY_IDS, merge=_MERGE_HISTOGRAM))
_APPLY_HISTOGRAM_BY = sa.text(_HISTOGRAM_BY_SQL.format(only=_ONLY_IDS, merge=_MERGE_HISTOGRAM_BY))


# Installed once, when this module is first imported; contactcenter.cases.models imports it,
# so no process can write a case without them.
install_rollup_hooks()
