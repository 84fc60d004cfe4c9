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

from contactcenter.cases.models import OPEN_STATUSES, Case, CaseStatus
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.models import CloseTimeCount, DailyCount

CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)

# Time-to-close buckets: whole hours for the first two days, whole days up to a year, then one
# bucket for everything longer. Buckets 0-47 are hours [h, h+1); 48-410 are days [d, d+1) for
# d = bucket - 46 (2..364); 411 is a year or more.
HOUR_BUCKETS = 48
OVERFLOW_BUCKET = 411
TWO_DAYS = 2 * 86400
ONE_YEAR = 365 * 86400

DIMENSIONS = ("all", "service_type", "channel", "district")
COUNTS = ("opened", "closed", "closed_with_target", "closed_on_time", "open_now")

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
)
"""The case attributes the figures depend on; a change to any other one changes nothing."""

LOCK_NAMESPACE = 0x70657266
"""The first key of the figures' advisory locks ("perf"); the second is the jurisdiction id
(the two-key lock space is distinct from the single-key locks used elsewhere)."""

DailyKey = tuple[int, str, dt.date, str]
HistogramKey = tuple[int, dt.date, int, int]


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
        )
        created_day = created_at.astimezone(zone).date()
        is_open = facts.status in OPEN_STATUSES
        for dimension, value in values:
            row = self.daily[(jurisdiction_id, dimension, created_day, value)]
            row[0] += sign
            if is_open:
                row[4] += sign
        done_at = facts.done_at
        if done_at is None:
            return
        closed_day = done_at.astimezone(zone).date()
        with_target = facts.due_at is not None
        on_time = facts.due_at is not None and done_at <= facts.due_at
        for dimension, value in values:
            row = self.daily[(jurisdiction_id, dimension, closed_day, value)]
            row[1] += sign
            row[2] += sign * with_target
            row[3] += sign * on_time
        bucket = bucket_of((done_at - created_at).total_seconds())
        key = (jurisdiction_id, closed_day.replace(day=1), facts.service_type_id or 0, bucket)
        self.histogram[key] += sign

    def merge(self, other: Deltas) -> None:
        for key, counts in other.daily.items():
            row = self.daily[key]
            for i, n in enumerate(counts):
                row[i] += n
        for hkey, n in other.histogram.items():
            self.histogram[hkey] += n

    def forget(self, jurisdiction_id: int) -> None:
        for key in [k for k in self.daily if k[0] == jurisdiction_id]:
            del self.daily[key]
        for hkey in [k for k in self.histogram if k[0] == jurisdiction_id]:
            del self.histogram[hkey]

    def jurisdiction_ids(self) -> list[int]:
        ids = {k[0] for k, counts in self.daily.items() if any(counts)}
        ids.update(k[0] for k, n in self.histogram.items() if n)
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
DAILY_KEY = ("jurisdiction_id", "dimension", "day", "value")
HISTOGRAM_KEY = ("jurisdiction_id", "month", "service_type_id", "bucket")


def lock_key(jurisdiction_id: int) -> tuple[int, int]:
    """The advisory lock (two keys) guarding one jurisdiction's figures on PostgreSQL."""
    return (LOCK_NAMESPACE, jurisdiction_id)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _write(session: Session, deltas: Deltas) -> None:
    connection = session.connection()
    daily = deltas.daily_rows()
    histogram = deltas.histogram_rows()
    if _is_postgres(session):
        # One statement per table, whatever the number of rows: the rows go in as arrays,
        # and the statement first takes the shared advisory lock of each jurisdiction it
        # writes (see the module's docstring), so this costs no statement more.
        locks = {"locked": deltas.jurisdiction_ids()}
        if daily:
            columns = {name: [row[name] for row in daily] for name in (*DAILY_KEY, *COUNTS)}
            connection.execute(_PG_DAILY_UPSERT, {**locks, **columns})
        if histogram:
            names = (*HISTOGRAM_KEY, "cases")
            columns = {name: [row[name] for row in histogram] for name in names}
            connection.execute(_PG_HISTOGRAM_UPSERT, {**locks, **columns})
        return
    if daily:
        connection.execute(_upsert(session, DAILY_TABLE, DAILY_KEY), daily)
    if histogram:
        connection.execute(_upsert(session, HISTOGRAM_TABLE, HISTOGRAM_KEY), histogram)


_MERGE_DAILY = """ON CONFLICT (jurisdiction_id, dimension, day, value) DO UPDATE SET
        opened = performance_daily.opened + excluded.opened,
        closed = performance_daily.closed + excluded.closed,
        closed_with_target = performance_daily.closed_with_target + excluded.closed_with_target,
        closed_on_time = performance_daily.closed_on_time + excluded.closed_on_time,
        open_now = performance_daily.open_now + excluded.open_now"""
_MERGE_HISTOGRAM = """ON CONFLICT (jurisdiction_id, month, service_type_id, bucket) DO UPDATE SET
        cases = performance_close_times.cases + excluded.cases"""

# Shared locks of the jurisdictions written, in id order, before the first row is inserted (the
# scalar subquery is an init plan, run once, at the first row); then the rows, in key order.
_SHARED_LOCKS = f"""
    WITH locks AS MATERIALIZED (
        SELECT pg_advisory_xact_lock_shared({LOCK_NAMESPACE}, j)
        FROM (SELECT DISTINCT unnest(CAST(:locked AS int[])) AS j ORDER BY 1) AS ids
    )
"""  # noqa: S608 - only our own constants are interpolated

_PG_DAILY_UPSERT = sa.text(
    _SHARED_LOCKS  # noqa: S608 - only our own constants
    + """
    INSERT INTO performance_daily (jurisdiction_id, dimension, day, value, opened, closed,
                                   closed_with_target, closed_on_time, open_now)
    SELECT * FROM unnest(CAST(:jurisdiction_id AS int[]), CAST(:dimension AS text[]),
                         CAST(:day AS date[]), CAST(:value AS text[]), CAST(:opened AS int[]),
                         CAST(:closed AS int[]), CAST(:closed_with_target AS int[]),
                         CAST(:closed_on_time AS int[]), CAST(:open_now AS int[]))
    WHERE (SELECT count(*) FROM locks) IS NOT NULL
    """
    + _MERGE_DAILY
)

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


# --- Rebuild ----------------------------------------------------------------------------------


def rebuild(session: Session, jurisdiction_id: int) -> None:
    """Recompute one jurisdiction's rollups from its cases (does not commit).

    For what bypasses the ORM (bulk updates, raw SQL), or after a jurisdiction's time zone
    changes. On PostgreSQL it is two ``INSERT ... SELECT ... GROUP BY`` statements over the
    cases, under the jurisdiction's advisory lock taken exclusively: commits that change this
    jurisdiction's cases wait to write their deltas until the rebuild commits (so a case
    committed concurrently is counted exactly once); other jurisdictions and readers go on.
    SQLite (the embedded mode, one writer at a time) has no time zones in SQL: there the
    cases are streamed through the same code as the session events.
    """
    session.flush()
    for _lineage, deltas in session.info.get(_PENDING, []):
        deltas.forget(jurisdiction_id)  # what the rebuild reads already includes them
    jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
    postgres = _is_postgres(session)
    if postgres:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(*lock_key(jurisdiction_id))))
    session.execute(sa.delete(DailyCount).where(DailyCount.jurisdiction_id == jurisdiction_id))
    session.execute(
        sa.delete(CloseTimeCount).where(CloseTimeCount.jurisdiction_id == jurisdiction_id)
    )
    if postgres:
        session.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        params = {"j": jurisdiction_id, "tz": _sql_timezone(jurisdiction)}
        session.execute(_REBUILD_DAILY, params)
        session.execute(_REBUILD_HISTOGRAM, params)
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
_DAILY_SQL = f"""
    INSERT INTO performance_daily (jurisdiction_id, dimension, day, value, opened, closed,
                                   closed_with_target, closed_on_time, open_now)
    SELECT :j,
           CASE WHEN GROUPING(c.st) = 0 THEN 'service_type'
                WHEN GROUPING(c.ch) = 0 THEN 'channel'
                WHEN GROUPING(c.di) = 0 THEN 'district' ELSE 'all' END,
           ev.day,
           CASE WHEN GROUPING(c.st) = 0 THEN c.st
                WHEN GROUPING(c.ch) = 0 THEN c.ch
                WHEN GROUPING(c.di) = 0 THEN c.di ELSE '' END,
           sum(ev.opened), sum(ev.closed), sum(ev.with_target), sum(ev.on_time),
           sum(ev.open_now)
    FROM (
        SELECT created_at,
               CASE WHEN status IN ({_CLOSED}) THEN coalesce(resolved_at, closed_at) END
                   AS done_at,
               due_at,
               CASE WHEN status IN ({_OPEN}) THEN 1 ELSE 0 END AS is_open,
               coalesce(service_type_id::text, '') AS st,
               origin_channel::text AS ch,
               coalesce(district, '') AS di
        FROM cases
        WHERE jurisdiction_id = :j {{only}}
    ) AS c
    CROSS JOIN LATERAL (VALUES
        ((c.created_at AT TIME ZONE :tz)::date, 1, 0, 0, 0, c.is_open),
        ((c.done_at AT TIME ZONE :tz)::date, 0, 1,
         CASE WHEN c.due_at IS NOT NULL THEN 1 ELSE 0 END,
         CASE WHEN c.done_at <= c.due_at THEN 1 ELSE 0 END, 0)
    ) AS ev (day, opened, closed, with_target, on_time, open_now)
    WHERE ev.day IS NOT NULL
    GROUP BY GROUPING SETS ((ev.day), (ev.day, c.st), (ev.day, c.ch), (ev.day, c.di))
    ORDER BY 2, 3, 4
    {{merge}}
"""  # noqa: S608 - only our own constants are interpolated

_HISTOGRAM_SQL = f"""
    INSERT INTO performance_close_times (jurisdiction_id, month, service_type_id, bucket, cases)
    SELECT :j, month, st, bucket, count(*)
    FROM (
        SELECT date_trunc('month', done_at AT TIME ZONE :tz)::date AS month,
               coalesce(service_type_id, 0) AS st,
               (CASE WHEN s < {TWO_DAYS} THEN greatest(floor(s / 3600), 0)
                     WHEN s < {ONE_YEAR} THEN 46 + floor(s / 86400)
                     ELSE {OVERFLOW_BUCKET} END)::int AS bucket
        FROM (
            SELECT coalesce(resolved_at, closed_at) AS done_at, service_type_id,
                   extract(epoch FROM coalesce(resolved_at, closed_at) - created_at) AS s
            FROM cases
            WHERE jurisdiction_id = :j AND status IN ({_CLOSED})
              AND coalesce(resolved_at, closed_at) IS NOT NULL {{only}}
        ) AS closed_cases
    ) AS bucketed
    GROUP BY month, st, bucket
    ORDER BY month, st, bucket
    {{merge}}
"""  # noqa: S608 - only our own constants are interpolated

_ONLY_IDS = "AND id = ANY(CAST(:ids AS int[]))"
_REBUILD_DAILY = sa.text(_DAILY_SQL.format(only="", merge=""))
_REBUILD_HISTOGRAM = sa.text(_HISTOGRAM_SQL.format(only="", merge=""))
_APPLY_DAILY = sa.text(_DAILY_SQL.format(only=_ONLY_IDS, merge=_MERGE_DAILY))
_APPLY_HISTOGRAM = sa.text(_HISTOGRAM_SQL.format(only=_ONLY_IDS, merge=_MERGE_HISTOGRAM))


# Installed once, when this module is first imported; contactcenter.cases.models imports it,
# so no process can write a case without them.
install_rollup_hooks()
