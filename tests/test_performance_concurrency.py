"""Rebuilds, commits and bulk inserts of cases side by side: a rebuild holds back only its own
jurisdiction's commits, no commit's increments are lost, and bulk-inserted cases are added by
``apply_inserted`` exactly as a rebuild would count them."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import get_db
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.rollup import apply_inserted, rebuild
from tests import factories
from tests.test_performance_rollup import assert_matches_rebuild, at, rollups


def _postgres_only(app: Flask) -> None:
    if get_db(app).engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no concurrent commit to test")


def _opened(session: Session, jurisdiction_id: int) -> int:
    daily, _ = rollups(session, jurisdiction_id)
    return sum(v[0] for k, v in daily.items() if k[0] == "all")


@pytest.fixture
def cities(session: Session) -> tuple[Jurisdiction, Jurisdiction]:
    a = factories.make_jurisdiction(session, slug="city-a")
    b = factories.make_jurisdiction(session, slug="city-b")
    for city in (a, b):
        factories.make_case(session, city, created_at=at("2026-01-05"))
    session.commit()
    return a, b


def test_a_rebuild_does_not_hold_back_another_jurisdictions_commits(
    app: Flask, session: Session, cities: tuple[Jurisdiction, Jurisdiction]
):
    _postgres_only(app)
    a, b = cities
    with get_db(app).session() as rebuilding:
        rebuild(rebuilding, a.id)  # held open: its lock lasts until it commits
        session.execute(sa.text("SET lock_timeout = '2s'"))
        factories.make_case(session, b, created_at=at("2026-01-06"))
        session.commit()  # would time out if the rebuild locked every jurisdiction's figures
        assert _opened(session, b.id) == 2

        session.execute(sa.text("SET lock_timeout = '200ms'"))
        factories.make_case(session, a, created_at=at("2026-01-06"))
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            session.commit()  # its own jurisdiction does wait for the rebuild
        session.rollback()
        rebuilding.commit()
    session.execute(sa.text("SET lock_timeout = 0"))
    session.commit()
    assert_matches_rebuild(app, a.id)
    assert_matches_rebuild(app, b.id)


def test_commits_during_a_rebuild_of_their_jurisdiction_are_counted_once(
    app: Flask, session: Session, cities: tuple[Jurisdiction, Jurisdiction]
):
    """Cases flushed before the rebuild starts and committed while it runs, and cases changed
    while it runs: the figures end equal to a rebuild, no increment lost or counted twice."""
    _postgres_only(app)
    a, _b = cities
    existing = session.scalars(sa.select(Case.id).where(Case.jurisdiction_id == a.id)).one()
    flushed = threading.Barrier(5)
    rebuilt = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with get_db(app).session() as own:
                city = own.get_one(Jurisdiction, a.id)
                factories.make_case(own, city, created_at=at("2026-01-07", hour=n))
                if n == 0:
                    case = own.get_one(Case, existing)
                    case.status = CaseStatus.RESOLVED
                    case.resolved_at = at("2026-01-08")
                own.flush()
                flushed.wait(timeout=10)
                rebuilt.wait(timeout=10)
                own.commit()  # waits for the rebuild's commit, then adds its deltas
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    flushed.wait(timeout=10)
    with get_db(app).session() as rebuilding:
        rebuild(rebuilding, a.id)
        rebuilt.set()
        time.sleep(0.3)  # the writers are now waiting on the rebuild's lock
        rebuilding.commit()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors, errors
    daily, histogram = assert_matches_rebuild(app, a.id)
    assert sum(v[0] for k, v in daily.items() if k[0] == "all") == 5
    assert sum(histogram.values()) == 1


def _bulk_rows(city: Jurisdiction, types: list[ServiceType], n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        created = at("2026-02-01") + dt.timedelta(hours=7 * i)
        closed = i % 3 == 0
        rows.append(
            {
                "jurisdiction_id": city.id,
                "tracking_number": f"BULK-{i:05d}",
                "status": CaseStatus.CLOSED if closed else CaseStatus.OPEN,
                "priority": "normal",
                "origin_channel": [Channel.OTHER, Channel.OPEN311][i % 2],
                "language": "en",
                "description": "",
                "address_text": "",
                "service_type_id": types[i % 2].id if i % 5 else None,
                "district": ["BRONX", "QUEENS", None][i % 3],
                "created_at": created,
                "updated_at": created,
                "closed_at": created + dt.timedelta(hours=5 + 30 * i) if closed else None,
                "due_at": created + dt.timedelta(days=3) if i % 4 else None,
                "source_key": f"k{i}",
                "attributes": {},
            }
        )
    return rows


def test_apply_inserted_adds_bulk_inserted_cases_as_a_rebuild_counts_them(
    app: Flask, session: Session, cities: tuple[Jurisdiction, Jurisdiction]
):
    a, b = cities
    types = list(session.scalars(sa.select(ServiceType).where(ServiceType.jurisdiction_id == a.id)))
    other_before = rollups(session, b.id)
    rows = _bulk_rows(a, types, 60)
    for start in (0, 30):  # two batches, the way an import commits them
        ids = session.scalars(sa.insert(Case).returning(Case.id), rows[start : start + 30]).all()
        apply_inserted(session, a.id, ids)
        session.commit()
    daily, histogram = assert_matches_rebuild(app, a.id)
    assert sum(v[0] for k, v in daily.items() if k[0] == "all") == 61
    assert sum(histogram.values()) == 20
    assert rollups(session, b.id) == other_before
    apply_inserted(session, a.id, [])  # nothing to add: nothing done
    session.commit()
    assert rollups(session, a.id) == (daily, histogram)


def test_every_process_that_imports_the_case_model_keeps_the_figures_current():
    """Not only the web app: a worker or a script that never calls create_app."""
    script = (
        "from sqlalchemy import event\n"
        "from sqlalchemy.orm import Session\n"
        "from contactcenter.cases.models import Case\n"
        "from contactcenter.performance import rollup\n"
        "assert event.contains(Session, 'after_flush', rollup._after_flush)\n"
        "assert event.contains(Case.status, 'set', rollup._keep_old_value)\n"
        "calls = []\n"
        "event.listen = lambda *args, **kwargs: calls.append(args)\n"
        "rollup.install_rollup_hooks()\n"
        "assert calls == [], calls  # installed once: a second call adds nothing\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
