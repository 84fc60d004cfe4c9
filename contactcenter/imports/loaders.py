"""Loading a batch of imported cases: PostgreSQL's COPY, or plain inserts elsewhere.

Both are idempotent on ``(jurisdiction_id, source_key)`` (``ON CONFLICT DO NOTHING``), count
what was already there and return the ids of the cases they inserted (the caller adds their
contributions to the public figures in the same transaction). A key that is already another
case's tracking number (a case this system opened, or one imported under another key) is
returned as a collision for the caller to reject, so one such row never fails its whole batch.

Imported cases are inserted directly: no routing, work item, SLA clock, notification or audit
event is made for them; they are history (see :mod:`contactcenter.imports.service`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, Priority

StagedRow = tuple[
    str,  # source_key (= tracking_number)
    str,  # status
    int | None,  # service_type_id
    int | None,  # department_id
    str,  # origin_channel
    str,  # description
    str,  # address_text
    float | None,  # latitude
    float | None,  # longitude
    dt.datetime | None,  # due_at
    dt.datetime,  # created_at
    dt.datetime,  # updated_at
    dt.datetime | None,  # closed_at (= resolved_at)
    str | None,  # district
    str,  # attributes (JSON text)
]
STAGED_COLUMNS = (
    ("source_key", "text"),
    ("status", "text"),
    ("service_type_id", "int8"),
    ("department_id", "int8"),
    ("origin_channel", "text"),
    ("description", "text"),
    ("address_text", "text"),
    ("latitude", "float8"),
    ("longitude", "float8"),
    ("due_at", "timestamptz"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("closed_at", "timestamptz"),
    ("district", "text"),
    ("attributes", "text"),
)
_DIRECT_COLUMNS = (
    ("id", "int4"),
    ("jurisdiction_id", "int4"),
    ("priority", "text"),
    ("language", "text"),
    ("resolved_at", "timestamptz"),
    ("tracking_number", "text"),
    *(
        (name, "int4" if kind == "int8" else kind)  # the exact types of cases' columns
        for name, kind in STAGED_COLUMNS
    ),
)
"""What a direct COPY into ``cases`` writes: an id taken from the table's sequence beforehand
(so the ids inserted are known without a lookup), constants, then the staged row with its key
as the tracking number (``json`` takes its text as its binary form)."""
STAGING_TABLE = "cc_import_staging"
CASES: sa.Table = sa.inspect(Case).local_table  # type: ignore[assignment]
_CHUNK = 500
"""Keys per ``IN (...)`` on SQLite (it allows 32,766 parameters; small chunks stay quick)."""


@dataclass(frozen=True)
class Loaded:
    already_present: int
    collisions: frozenset[str]
    """Keys already used as another case's tracking number: not loaded, to be rejected."""
    ids: tuple[int, ...] = ()
    """The cases inserted."""

    @property
    def inserted(self) -> int:
        return len(self.ids)


def load_batch(
    session: Session, jurisdiction_id: int, language: str, rows: Sequence[StagedRow]
) -> Loaded:
    """Insert ``rows`` in the session's transaction (the caller commits)."""
    if not rows:
        return Loaded(0, frozenset())
    if session.get_bind().dialect.name == "postgresql":
        return _load_postgresql(session, jurisdiction_id, language, rows)
    return _load_generic(session, jurisdiction_id, language, rows)


def _load_postgresql(
    session: Session, jurisdiction_id: int, language: str, rows: Sequence[StagedRow]
) -> Loaded:
    """The rows are first copied straight into ``cases`` (under a savepoint): every batch of
    a first import goes in that way, with no lookup at all. When a key is already there (a
    rerun, a key twice in the batch, another case's tracking number), the copy fails on the
    unique constraint and is rolled back to the savepoint; the batch's keys are then looked up
    (one indexed query), the rows copied into a temporary staging table, and moved with one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING id``, the colliding ones left out.
    The direct copy's ids are drawn from the sequence first (one statement; ids a rolled-back
    copy drew are gaps, as any rollback leaves).
    """
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, %s)",
            (len(rows),),
        )
        ids = tuple(int(i) for (i,) in cur.fetchall())
        cur.execute("SAVEPOINT cc_import_direct")
        try:
            names = ", ".join(name for name, _ in _DIRECT_COLUMNS)
            with cur.copy(f"COPY cases ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([kind for _, kind in _DIRECT_COLUMNS])
                constant = (jurisdiction_id, Priority.NORMAL.value, language)
                for case_id, row in zip(ids, rows, strict=True):
                    copy.write_row((case_id, *constant, row[12], row[0], *row))
        except psycopg.errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT cc_import_direct")
        else:
            cur.execute("RELEASE SAVEPOINT cc_import_direct")
            return Loaded(0, frozenset(), ids)
        cur.execute(
            "SELECT tracking_number, source_key FROM cases"
            " WHERE jurisdiction_id = %s AND tracking_number = ANY(%s)",
            (jurisdiction_id, list({r[0] for r in rows})),
        )
        collisions = frozenset(key for key, source_key in cur.fetchall() if source_key != key)
        if collisions:
            rows = [r for r in rows if r[0] not in collisions]
        inserted = _insert_staged(cur, jurisdiction_id, language, rows)
    return Loaded(len(rows) - len(inserted), collisions, inserted)


def _insert_staged(
    cur: Any, jurisdiction_id: int, language: str, rows: Sequence[StagedRow]
) -> tuple[int, ...]:
    names = ", ".join(name for name, _ in STAGED_COLUMNS)
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGED_COLUMNS)
    # ON COMMIT DELETE ROWS: each batch's transaction finds it empty, on whichever pooled
    # connection it runs.
    cur.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING_TABLE} ({columns}) ON COMMIT DELETE ROWS"
    )
    cur.execute(f"TRUNCATE {STAGING_TABLE}")
    with cur.copy(f"COPY {STAGING_TABLE} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([kind for _, kind in STAGED_COLUMNS])
        for row in rows:
            copy.write_row(row)
    cur.execute(
        "INSERT INTO cases (jurisdiction_id, tracking_number, priority, language, resolved_at,"  # noqa: S608 - our names, values are parameters
        f" {names}) SELECT %s, source_key, %s, %s, closed_at, source_key, status,"
        " service_type_id, department_id, origin_channel, description, address_text,"
        " latitude, longitude, due_at, created_at, updated_at, closed_at, district,"
        f" attributes::json FROM {STAGING_TABLE}"
        " ON CONFLICT (jurisdiction_id, source_key) DO NOTHING RETURNING id",
        (jurisdiction_id, Priority.NORMAL.value, language),
    )
    return tuple(int(i) for (i,) in cur.fetchall())


def _load_generic(
    session: Session, jurisdiction_id: int, language: str, rows: Sequence[StagedRow]
) -> Loaded:
    """Look the keys up, then insert what is new with ``executemany``."""
    keys = list(dict.fromkeys(r[0] for r in rows))
    present: set[str] = set()
    collisions: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        found = session.execute(
            sa.select(Case.tracking_number, Case.source_key).where(
                Case.jurisdiction_id == jurisdiction_id,
                Case.tracking_number.in_(keys[start : start + _CHUNK]),
            )
        )
        for tracking_number, source_key in found:
            (present if source_key == tracking_number else collisions).add(tracking_number)
    fresh: list[dict[str, Any]] = []
    for row in rows:
        key = row[0]
        if key in present or key in collisions:
            continue
        present.add(key)  # a key repeated within the file counts once
        fresh.append(
            {
                "jurisdiction_id": jurisdiction_id,
                "tracking_number": key,
                "priority": Priority.NORMAL.value,
                "language": language,
                "resolved_at": row[12],
                **{name: value for (name, _), value in zip(STAGED_COLUMNS, row, strict=True)},
            }
        )
    ids: tuple[int, ...] = ()
    if fresh:
        for item in fresh:
            item["attributes"] = json.loads(item["attributes"])
        statement = (
            sqlite.insert(CASES)
            .on_conflict_do_nothing(index_elements=["jurisdiction_id", "source_key"])
            .returning(CASES.c.id)
        )
        ids = tuple(session.scalars(statement, fresh))
    loadable = len(rows) - sum(1 for r in rows if r[0] in collisions)
    return Loaded(loadable - len(ids), frozenset(collisions), ids)
