"""The service delivery counts of the case rollups (department dimension, duplicates, SLA
breaches, reopened cases, satisfaction, the department and district time-to-close histograms)
follow every change to a case and always equal a rebuild: on PostgreSQL the rebuild is SQL, so
these tests check that SQL against the session events; bulk inserts (apply_inserted) and the
migration that fills an existing database agree with them too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.orm import Session

from contactcenter import migrate
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, DuplicateStatus
from contactcenter.cli import cli
from contactcenter.db import get_db, make_engine
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.models import CloseTimeByCount, CloseTimeCount, DailyCount
from contactcenter.performance.rollup import COUNTS, apply_inserted, rebuild
from tests import factories
from tests.conftest import _drop_postgres_database
from tests.test_migrations import _fresh_database_url
from tests.test_performance_migration import insert_rows, old_city

UTC = dt.UTC
BEFORE_SERVICE_FIGURES = "aee869850749"  # before any figures: both fills run


def all_rollups(session: Session, jurisdiction_id: int) -> tuple[dict[Any, Any], ...]:
    """Every non-zero row of a jurisdiction's three case rollups, every count included."""
    d = DailyCount
    daily = {
        (row[0], row[1], row[2]): tuple(row[3:])
        for row in session.execute(
            sa.select(d.dimension, d.day, d.value, *(getattr(d, n) for n in COUNTS)).where(
                d.jurisdiction_id == jurisdiction_id
            )
        )
        if any(row[3:])
    }
    h = CloseTimeCount
    histogram = {
        (row.month, row.service_type_id, row.bucket): row.cases
        for row in session.execute(
            sa.select(h.month, h.service_type_id, h.bucket, h.cases).where(
                h.jurisdiction_id == jurisdiction_id
            )
        )
        if row.cases
    }
    b = CloseTimeByCount
    histogram_by = {
        (row.month, row.dimension, row.value, row.bucket): row.cases
        for row in session.execute(
            sa.select(b.month, b.dimension, b.value, b.bucket, b.cases).where(
                b.jurisdiction_id == jurisdiction_id
            )
        )
        if row.cases
    }
    return daily, histogram, histogram_by


def assert_all_match_rebuild(app: Flask, jurisdiction_id: int) -> tuple[dict[Any, Any], ...]:
    """The incremental rollups equal a rebuild (done in a transaction then rolled back)."""
    with get_db(app).session() as other:
        incremental = all_rollups(other, jurisdiction_id)
        rebuild(other, jurisdiction_id)
        rebuilt = all_rollups(other, jurisdiction_id)
        other.rollback()
    assert incremental == rebuilt
    return incremental


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def city(session: Session) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="service-rollup-city")
    session.commit()
    return city


def departments_of(session: Session, city: Jurisdiction) -> dict[str, Department]:
    found = session.scalars(sa.select(Department).where(Department.jurisdiction_id == city.id))
    return {d.code: d for d in found}


def total(daily: dict[Any, Any], dimension: str, count: str, value: str | None = None) -> int:
    index = COUNTS.index(count)
    return sum(
        v[index] for k, v in daily.items() if k[0] == dimension and (value is None or k[2] == value)
    )


def test_every_change_to_a_service_fact_keeps_the_rollups_equal_to_a_rebuild(
    app: Flask, session: Session, city: Jurisdiction
):
    departments = departments_of(session, city)
    pw, san = departments["PW"], departments["SAN"]
    cases = [
        factories.make_case(
            session,
            city,
            department=[pw, san, None][n % 3],
            district=["Ward 1", None][n % 2],
            created_at=at(f"2026-03-{n + 1:02d}", hour=n * 2),
        )
        for n in range(8)
    ]
    for n, case in enumerate(cases[:5]):
        case.status = CaseStatus.RESOLVED
        case.resolved_at = case.created_at + dt.timedelta(hours=5 + 30 * n)
    session.commit()
    daily, _, histogram_by = assert_all_match_rebuild(app, city.id)
    assert total(daily, "department", "opened", str(pw.id)) == 3
    assert total(daily, "department", "opened", "") == 2
    assert sum(n for k, n in histogram_by.items() if k[1] == "department") == 5
    assert sum(n for k, n in histogram_by.items() if k[1] == "district") == 5

    # Each new fact set, on open and on closed cases.
    cases[0].satisfaction = 5
    cases[1].satisfaction = 2
    cases[5].satisfaction = 4  # open: not counted until it closes
    cases[2].duplicate_status = DuplicateStatus.CONFIRMED
    cases[6].duplicate_status = DuplicateStatus.SUSPECTED
    cases[3].sla_breached = True
    cases[7].sla_breached = True
    cases[4].reopened_count = 1
    session.commit()
    daily, _, _ = assert_all_match_rebuild(app, city.id)
    assert total(daily, "all", "sat_responses") == 2
    assert total(daily, "all", "sat_score_sum") == 7
    assert total(daily, "all", "sat_satisfied") == 1
    assert total(daily, "all", "duplicates") == 1
    assert total(daily, "all", "sla_breached") == 2
    assert total(daily, "all", "reopened") == 1

    # Changed after the fact: department, district, answer, duplicate rejected, reopened.
    cases[0].department_id = san.id
    cases[1].district = "Ward 9"
    cases[0].satisfaction = 3
    cases[2].duplicate_status = DuplicateStatus.REJECTED
    cases[6].duplicate_status = DuplicateStatus.CONFIRMED
    cases[3].status, cases[3].resolved_at = CaseStatus.OPEN, None
    cases[3].reopened_count = 1
    cases[5].status, cases[5].resolved_at = CaseStatus.RESOLVED, at("2026-04-02")
    session.commit()
    daily, _, histogram_by = assert_all_match_rebuild(app, city.id)
    assert total(daily, "department", "sat_responses", str(san.id)) == 2  # 0 moved, and 1
    assert total(daily, "all", "sat_responses") == 3
    assert total(daily, "all", "reopened") == 1  # cases[3] is open again: not counted
    assert total(daily, "department", "closed", str(san.id)) == 3
    assert total(daily, "department", "closed", str(pw.id)) == 0
    assert any(k[1:3] == ("district", "Ward 9") for k in histogram_by)

    # Expired (old values not in memory), several flushes, a savepoint rolled back, a delete.
    session.expire(cases[4])
    cases[4].reopened_count = 2
    cases[4].department_id = pw.id
    session.flush()
    with session.begin_nested() as savepoint:
        cases[6].department_id = pw.id
        session.flush()
        savepoint.rollback()
    victim = cases[0]
    session.execute(sa.delete(CaseEvent).where(CaseEvent.case_id == victim.id))
    session.expire(victim)
    session.delete(victim)
    session.commit()
    daily, _, _ = assert_all_match_rebuild(app, city.id)
    assert total(daily, "all", "opened") == 7


def test_bulk_inserted_cases_count_as_a_rebuild_counts_them(
    app: Flask, session: Session, city: Jurisdiction
):
    departments = departments_of(session, city)
    types = list(
        session.scalars(sa.select(ServiceType).where(ServiceType.jurisdiction_id == city.id))
    )
    rows = []
    for i in range(40):
        created = at("2026-02-01") + dt.timedelta(hours=7 * i)
        closed = i % 3 != 0
        rows.append(
            {
                "jurisdiction_id": city.id,
                "tracking_number": f"SVC-{i:05d}",
                "status": CaseStatus.RESOLVED if closed else CaseStatus.OPEN,
                "priority": "normal",
                "origin_channel": [Channel.OTHER, Channel.OPEN311][i % 2],
                "language": "en",
                "description": "",
                "address_text": "",
                "service_type_id": types[i % 2].id if i % 5 else None,
                "department_id": [departments["PW"].id, departments["SAN"].id, None][i % 3],
                "district": ["BRONX", "QUEENS", None][i % 3],
                "created_at": created,
                "updated_at": created,
                "resolved_at": created + dt.timedelta(hours=5 + 30 * i) if closed else None,
                "due_at": created + dt.timedelta(days=3) if i % 4 else None,
                "duplicate_status": DuplicateStatus.CONFIRMED if i % 7 == 0 else None,
                "sla_breached": i % 6 == 0,
                "reopened_count": int(i % 4 == 1),
                "satisfaction": (i % 5) + 1 if i % 2 else None,
                "source_key": f"s{i}",
                "attributes": {},
            }
        )
    for start in (0, 20):  # two batches, the way an import commits them
        ids = session.scalars(sa.insert(Case).returning(Case.id), rows[start : start + 20]).all()
        apply_inserted(session, city.id, ids)
        session.commit()
    daily, _, histogram_by = assert_all_match_rebuild(app, city.id)
    assert total(daily, "all", "opened") == 40
    assert total(daily, "department", "opened") == 40
    assert total(daily, "all", "duplicates") == 6
    assert total(daily, "all", "sla_breached") == 7
    assert sum(n for k, n in histogram_by.items() if k[1] == "department") == 26


def test_the_rebuild_command_also_rebuilds_the_contact_rollups(
    app: Flask, session: Session, city: Jurisdiction, monkeypatch: pytest.MonkeyPatch
):
    from contactcenter.performance import contacts

    rebuilt: list[int] = []
    monkeypatch.setattr(contacts, "rebuild_contact_rollups", lambda _s, j: rebuilt.append(j))
    factories.make_case(session, city, created_at=at("2026-01-05"))
    session.commit()
    info = ScriptInfo(create_app=lambda: app)
    result = CliRunner().invoke(
        cli, ["performance", "rebuild", "--jurisdiction", city.slug], obj=info
    )
    assert result.exit_code == 0, result.output
    assert rebuilt == [city.id]


def test_upgrading_fills_the_service_figures_from_the_cases_and_their_history(tmp_path: Path):
    """A database from before: its cases have departments, duplicates, and events saying they
    were reopened or breached their SLA; after the upgrade the cases say so and the figures
    are what a rebuild gives."""
    url, server = _fresh_database_url(tmp_path)
    engine = make_engine(url, pooled=False)
    try:
        migrate.upgrade(url, BEFORE_SERVICE_FIGURES)
        with engine.begin() as connection:
            city_id, type_ids, department_ids = old_city(connection, "svc-m", "America/Toronto")
            rows = []
            for i in range(12):
                created = at("2026-03-01") + dt.timedelta(hours=9 * i)
                closed = i % 2 == 0
                rows.append(
                    {
                        "jurisdiction_id": city_id,
                        "tracking_number": f"OLD-{i:03d}",
                        "status": "resolved" if closed else "open",
                        "priority": "normal",
                        "origin_channel": "sms",
                        "language": "en",
                        "description": "",
                        "address_text": "",
                        "service_type_id": type_ids[i % 2],
                        "department_id": department_ids[i % 2] if i % 3 else None,
                        "district": ["Ward 1", None][i % 2],
                        "duplicate_status": "confirmed" if i % 5 == 0 else None,
                        "created_at": created,
                        "updated_at": created,
                        "resolved_at": created + dt.timedelta(hours=3 + 20 * i) if closed else None,
                        "due_at": created + dt.timedelta(days=2),
                        "attributes": {},
                    }
                )
            case_ids = insert_rows(connection, "cases", rows)
            events = [
                (case_ids[0], "reopened"),
                (case_ids[0], "reopened"),
                (case_ids[4], "reopened"),
                (case_ids[1], "sla_breached"),
                (case_ids[1], "sla_breached"),
                (case_ids[2], "sla_breached"),
                (case_ids[3], "status_changed"),
            ]
            insert_rows(
                connection,
                "case_events",
                [
                    {
                        "case_id": case_id,
                        "jurisdiction_id": city_id,
                        "kind": kind,
                        "actor": "system",
                        "data": {},
                        "created_at": at("2026-03-20"),
                    }
                    for case_id, kind in events
                ],
            )

        migrate.upgrade(url)

        with Session(engine) as session:
            facts = {
                row.id: (row.reopened_count, row.sla_breached)
                for row in session.execute(
                    sa.select(Case.id, Case.reopened_count, Case.sla_breached)
                )
            }
            assert facts[case_ids[0]] == (2, False)
            assert facts[case_ids[4]] == (1, False)
            assert facts[case_ids[1]] == (0, True) and facts[case_ids[2]] == (0, True)
            assert facts[case_ids[3]] == (0, False)
            upgraded = all_rollups(session, city_id)
            rebuild(session, city_id)
            assert all_rollups(session, city_id) == upgraded
            session.rollback()
            daily, _, histogram_by = upgraded
            assert total(daily, "department", "opened") == 12
            assert total(daily, "all", "duplicates") == 3
            assert total(daily, "all", "sla_breached") == 2
            assert total(daily, "all", "reopened") == 2  # cases 0 and 4, both closed
            assert sum(n for k, n in histogram_by.items() if k[1] == "district") == 6
    finally:
        engine.dispose()
        if server:
            _drop_postgres_database(server, url)
