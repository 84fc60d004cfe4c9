"""An import keeps the public figures exact batch by batch: whenever it stops, they count the
committed cases, as a rebuild from the cases table would."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseStatus
from contactcenter.cases.service import change_status
from contactcenter.db import get_db
from contactcenter.imports.models import ImportRun
from contactcenter.imports.service import import_nyc
from contactcenter.performance.models import CloseTimeCount, DailyCount
from contactcenter.performance.rollup import rebuild
from tests.test_import_nyc import SAMPLE, needs_sample, nyc, nyc_row, options, write_nyc

__all__ = ["nyc"]  # the fixture


def figures(session: Session, jurisdiction_id: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    d, h = DailyCount, CloseTimeCount
    daily = {
        tuple(row[:3]): tuple(row[3:])
        for row in session.execute(
            sa.select(
                d.dimension, d.day, d.value, d.opened, d.closed, d.closed_on_time, d.open_now
            ).where(d.jurisdiction_id == jurisdiction_id)
        )
        if any(row[3:])
    }
    histogram = {
        tuple(row[:3]): row[3]
        for row in session.execute(
            sa.select(h.month, h.service_type_id, h.bucket, h.cases).where(
                h.jurisdiction_id == jurisdiction_id
            )
        )
        if row[3]
    }
    return daily, histogram


def assert_figures_match_a_rebuild(app: Flask, jurisdiction_id: int) -> dict[Any, Any]:
    with get_db(app).session() as other:
        kept = figures(other, jurisdiction_id)
        rebuild(other, jurisdiction_id)
        rebuilt = figures(other, jurisdiction_id)
        other.rollback()
    assert kept == rebuilt
    return kept[0]


def opened_total(daily: dict[Any, Any]) -> int:
    return sum(v[0] for k, v in daily.items() if k[0] == "all")


def mixed_rows(count: int) -> list[dict[str, str]]:
    """Closed and open requests over several days, agencies and boroughs."""
    rows = []
    for n in range(1, count + 1):
        open_one = n % 3 == 0
        rows.append(
            nyc_row(
                str(91000 + n),
                Created_Date=f"03/{1 + n % 9:02d}/2011 0{1 + n % 8}:15:00 PM",
                Closed_Date="" if open_one else f"03/{12 + n % 7:02d}/2011 10:00:00 AM",
                Status="Open" if open_one else "Closed",
                Agency="DOT" if n % 2 else "DSNY",
                Complaint_Type="Street Condition" if n % 2 else "Dirty Conditions",
                Borough="QUEENS" if n % 4 else "BRONX",
            )
        )
    return rows


class Stop(Exception):
    pass


def test_an_import_stopped_after_some_batches_has_exactly_their_cases_in_the_figures(
    app, session, nyc, tmp_path
):
    path = write_nyc(tmp_path / "forty.csv", mixed_rows(40))
    seen: list[int] = []

    def stop_after_two(run: ImportRun) -> None:
        seen.append(run.rows_read)
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        import_nyc(session, nyc, path, options(tmp_path, batch_size=10), after_batch=stop_after_two)

    assert opened_total(assert_figures_match_a_rebuild(app, nyc.id)) == 20

    import_nyc(session, nyc, path, options(tmp_path, batch_size=10))
    assert opened_total(assert_figures_match_a_rebuild(app, nyc.id)) == 40


def test_staff_closing_an_imported_case_between_batches_leaves_the_figures_exact(
    app, session, nyc, tmp_path
):
    path = write_nyc(tmp_path / "thirty.csv", mixed_rows(30))

    def close_one_open_case(run: ImportRun) -> None:
        if run.rows_read != 10:
            return
        case = session.scalars(
            sa.select(Case).where(Case.jurisdiction_id == nyc.id, Case.status == CaseStatus.OPEN)
        ).first()
        assert case is not None
        with app.app_context():
            change_status(session, case, CaseStatus.CLOSED, agent=None)
            session.commit()
        assert opened_total(assert_figures_match_a_rebuild(app, nyc.id)) == 10

    import_nyc(
        session, nyc, path, options(tmp_path, batch_size=10), after_batch=close_one_open_case
    )

    daily = assert_figures_match_a_rebuild(app, nyc.id)
    assert opened_total(daily) == 30
    assert all(value >= 0 for counts in daily.values() for value in counts)


def test_a_full_import_of_the_sample_counts_every_request_once_without_a_rebuild(
    app, session, nyc, tmp_path
):
    needs_sample()
    import_nyc(session, nyc, SAMPLE, options(tmp_path, batch_size=700))
    assert opened_total(assert_figures_match_a_rebuild(app, nyc.id)) == 2000

    again = import_nyc(session, nyc, SAMPLE, options(tmp_path, again=True))
    assert again.already_present == 2000
    assert opened_total(assert_figures_match_a_rebuild(app, nyc.id)) == 2000
