"""Imports running at once on PostgreSQL: one file is imported by one process at a time (an
advisory lock held for the whole run), and two files bringing the same new agency and
complaint type both finish, sharing the department and service type."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from contactcenter.db import get_db
from contactcenter.imports import service as import_service
from contactcenter.imports.models import ImportRun, ImportState
from contactcenter.imports.service import ImportInProgress, ImportOptions, import_nyc
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from tests.test_import_nyc import nyc, nyc_row, write_nyc

__all__ = ["nyc"]  # the fixture


@pytest.fixture
def database(app):
    database = get_db(app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's advisory locks and concurrent writers")
    return database


def in_thread(target: Any) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(target())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_second_import_of_the_same_file_is_refused_while_the_first_runs(
    database, session, nyc, tmp_path
):
    path = write_nyc(tmp_path / "same.csv", [nyc_row(str(4000 + n)) for n in range(1, 6)])
    first_batch_done, go_on = threading.Event(), threading.Event()

    def hold(run: ImportRun) -> None:
        first_batch_done.set()
        assert go_on.wait(30)

    def first() -> Any:
        with database.session() as own:
            city = own.get_one(Jurisdiction, nyc.id)
            options = ImportOptions(rejects_path=tmp_path / "r1.csv", batch_size=1)
            return import_nyc(own, city, path, options, after_batch=hold)

    thread, outcome = in_thread(first)
    try:
        assert first_batch_done.wait(30)
        with database.session() as own, pytest.raises(ImportInProgress, match="right now"):
            import_nyc(own, own.get_one(Jurisdiction, nyc.id), path, ImportOptions())
    finally:
        go_on.set()
        thread.join(30)

    assert outcome[0].imported == 5
    session.expire_all()
    runs = session.scalars(sa.select(ImportRun)).all()
    assert [(r.state, r.rows_imported) for r in runs] == [(ImportState.DONE, 5)]
    again = import_nyc(session, nyc, path, ImportOptions(rejects_path=tmp_path / "r2.csv"))
    assert again.already_imported  # the lock is released with the run


def _waiting_on_a_lock(database) -> bool:
    with database.engine.connect() as watcher:
        return bool(
            watcher.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
        )


def test_two_files_bringing_the_same_new_agency_both_finish(
    database, session, nyc, tmp_path, monkeypatch
):
    new = {"Agency": "NEWAG", "Agency_Name": "New Agency", "Complaint_Type": "Strange Thing"}
    first_path = write_nyc(tmp_path / "a.csv", [nyc_row("5101", **new), nyc_row("5102", **new)])
    second_path = write_nyc(tmp_path / "b.csv", [nyc_row("5201", **new)])
    load_batch = import_service.load_batch
    first_loading = threading.Event()

    def slow_first_batch(session_: Any, jurisdiction_id: int, language: str, rows: Any) -> Any:
        """The first import has inserted the agency (uncommitted): the second must wait for it
        rather than fail on the unique code."""
        if rows and rows[0][0] == "5101":
            first_loading.set()
            deadline = time.monotonic() + 20
            while not _waiting_on_a_lock(database) and time.monotonic() < deadline:
                time.sleep(0.05)
        return load_batch(session_, jurisdiction_id, language, rows)

    monkeypatch.setattr(import_service, "load_batch", slow_first_batch)

    def importing(path: Any, rejects: str) -> Any:
        def run() -> Any:
            with database.session() as own:
                city = own.get_one(Jurisdiction, nyc.id)
                return import_nyc(own, city, path, ImportOptions(rejects_path=tmp_path / rejects))

        return run

    first, first_outcome = in_thread(importing(first_path, "ra.csv"))
    assert first_loading.wait(30)
    second, second_outcome = in_thread(importing(second_path, "rb.csv"))
    first.join(60)
    second.join(60)

    assert [o.imported for o in first_outcome + second_outcome] == [2, 1], (
        first_outcome,
        second_outcome,
    )
    assert first_outcome[0].created_departments == ["NEWAG"]
    assert second_outcome[0].created_departments == []
    session.expire_all()
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Department).where(Department.code == "NEWAG")
        )
        == 1
    )
    services = session.scalars(sa.select(ServiceType).where(ServiceType.name == "Strange Thing"))
    assert len(services.all()) == 1
    runs = session.scalars(sa.select(ImportRun.state)).all()
    assert runs == [ImportState.DONE, ImportState.DONE]


def test_a_department_or_service_type_created_meanwhile_is_used_not_duplicated(app, session, nyc):
    from contactcenter.imports.mapping import Catalog

    catalog = Catalog(session, nyc)  # read before the other import's commit
    with get_db(app).session() as other:
        department = Department(jurisdiction_id=nyc.id, code="LATE", name="Late agency")
        other.add(department)
        other.flush()
        other.add_all(
            [
                ServiceType(jurisdiction_id=nyc.id, code="odd-thing", name="Odd Thing"),
                ServiceType(jurisdiction_id=nyc.id, code="noise-street", name="Noise - Street"),
            ]
        )
        other.commit()
        late_id = department.id

    assert catalog.department_id("LATE", "Late agency") == late_id
    odd = catalog.service_type_id("Odd Thing", late_id)
    alike = catalog.service_type_id("Noise Street", late_id)  # slugs as noise-street
    session.commit()

    assert catalog.created_departments == []
    assert catalog.created_service_types == ["noise-street-2"]
    codes = {s.id: s.code for s in session.scalars(sa.select(ServiceType))}
    assert (codes[odd], codes[alike]) == ("odd-thing", "noise-street-2")


def test_a_first_import_analyzes_the_cases_table_each_time_it_doubles(
    database, session, nyc, tmp_path
):
    """So the figures' per-batch statements keep using the primary key (see
    ``_Batch._analyze_when_grown``)."""
    session.execute(sa.text("ANALYZE cases"))  # an empty table, known to be empty
    session.commit()
    path = write_nyc(tmp_path / "sixty.csv", [nyc_row(str(6100 + n)) for n in range(60)])
    analyzes: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip().upper().startswith("ANALYZE"):
            analyzes.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", spy)
    try:
        import_nyc(
            session, nyc, path, ImportOptions(rejects_path=tmp_path / "r.csv", batch_size=10)
        )
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", spy)

    assert len(analyzes) == 2  # after 10 rows (from none), then at 30 (from 10)
