"""The migration that creates the figures fills them from the cases already in the database:
an upgraded database starts from the same figures a rebuild gives, never from zero."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter import migrate
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import make_engine
from contactcenter.jurisdictions.models import ServiceType
from contactcenter.performance.rollup import rebuild
from tests import factories
from tests.conftest import _drop_postgres_database
from tests.test_migrations import _fresh_database_url
from tests.test_performance_concurrency import _bulk_rows
from tests.test_performance_rollup import rollups

BEFORE_FIGURES = "aee869850749"


def test_upgrading_a_database_with_cases_fills_the_figures_as_a_rebuild_would(tmp_path: Path):
    url, server = _fresh_database_url(tmp_path)
    engine = make_engine(url, pooled=False)
    try:
        migrate.upgrade(url, BEFORE_FIGURES)
        with Session(engine) as session:
            cities = [factories.make_jurisdiction(session, slug=f"m-{n}") for n in range(2)]
            cities[1].timezone = "Asia/Kolkata"
            session.commit()
            for n, city in enumerate(cities):
                types = list(
                    session.scalars(
                        sa.select(ServiceType).where(ServiceType.jurisdiction_id == city.id)
                    )
                )
                rows = _bulk_rows(city, types, 40 + n)
                for row in rows:
                    row["resolved_at"] = row.pop("closed_at")
                    if row["resolved_at"] is not None:
                        row["status"] = CaseStatus.RESOLVED
                session.execute(sa.insert(Case), rows)  # no figures table yet: core statements
            session.commit()
            ids = [c.id for c in cities]

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
