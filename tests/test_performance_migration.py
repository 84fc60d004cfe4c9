"""The migration that creates the figures fills them from the cases already in the database:
an upgraded database starts from the same figures a rebuild gives, never from zero."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter import migrate
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import make_engine
from contactcenter.performance.rollup import rebuild
from tests.conftest import _drop_postgres_database
from tests.test_migrations import _fresh_database_url
from tests.test_performance_concurrency import _bulk_rows
from tests.test_performance_rollup import rollups

BEFORE_FIGURES = "aee869850749"


def insert_rows(connection: sa.Connection, name: str, rows: list[dict[str, Any]]) -> list[int]:
    """Rows inserted in a table as the database has it (an older schema than the models')."""
    table = sa.Table(name, sa.MetaData(), autoload_with=connection)
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.scalars(statement, rows))


def old_city(
    connection: sa.Connection, slug: str, timezone: str
) -> tuple[int, list[int], list[int]]:
    """A jurisdiction with two departments and a service type in each, in an older schema:
    its id, the service types' ids and the departments' ids."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    (city_id,) = insert_rows(
        connection,
        "jurisdictions",
        [
            {
                "slug": slug,
                "name": slug,
                "timezone": timezone,
                "country": "CA",
                "languages": ["en"],
                "created_at": now,
            }
        ],
    )
    departments = insert_rows(
        connection,
        "departments",
        [
            {"jurisdiction_id": city_id, "code": code, "name": code, "is_default": False}
            for code in ("PW", "SAN")
        ],
    )
    types = insert_rows(
        connection,
        "service_types",
        [
            {
                "jurisdiction_id": city_id,
                "code": code,
                "name": code,
                "group": "",
                "description": "",
                "keywords": [],
                "active": True,
                "department_id": department,
                "target_days": 5,
            }
            for code, department in zip(("pothole", "pickup"), departments, strict=True)
        ],
    )
    return city_id, types, departments


def test_upgrading_a_database_with_cases_fills_the_figures_as_a_rebuild_would(tmp_path: Path):
    url, server = _fresh_database_url(tmp_path)
    engine = make_engine(url, pooled=False)
    try:
        migrate.upgrade(url, BEFORE_FIGURES)
        ids = []
        with engine.begin() as connection:  # the schema of then: core statements only
            for n, timezone in enumerate(("America/Toronto", "Asia/Kolkata")):
                city_id, type_ids, _departments = old_city(connection, f"m-{n}", timezone)
                city: Any = SimpleNamespace(id=city_id)
                types: Any = [SimpleNamespace(id=t) for t in type_ids]
                rows = _bulk_rows(city, types, 40 + n)
                for row in rows:
                    row["resolved_at"] = row.pop("closed_at")
                    if row["resolved_at"] is not None:
                        row["status"] = CaseStatus.RESOLVED
                insert_rows(connection, "cases", rows)
                ids.append(city_id)

        migrate.upgrade(url)

        with Session(engine) as session:
            for city_id in ids:
                upgraded = rollups(session, city_id)
                rebuild(session, city_id)
                assert rollups(session, city_id) == upgraded
                session.rollback()
                daily, histogram = upgraded
                assert sum(v[0] for k, v in daily.items() if k[0] == "all") in (40, 41)
                assert sum(histogram.values()) == 14

            # Resolving an open case afterwards leaves the backlog at zero or more.
            case = session.scalars(
                sa.select(Case).where(Case.status == CaseStatus.OPEN).limit(1)
            ).one()
            case.status = CaseStatus.RESOLVED
            case.resolved_at = case.created_at + dt.timedelta(days=1)
            session.commit()
            daily, _ = rollups(session, case.jurisdiction_id)
            assert all(v[4] >= 0 for v in daily.values())
    finally:
        engine.dispose()
        if server:
            _drop_postgres_database(server, url)
