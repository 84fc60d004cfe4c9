"""The rollups behind the public figures follow every change to a case (session events) and
always equal a rebuild from the cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseEvent, CaseStatus
from contactcenter.cases.service import change_status
from contactcenter.cli import cli
from contactcenter.db import get_db
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.models import CloseTimeCount, DailyCount
from contactcenter.performance.rollup import (
    OVERFLOW_BUCKET,
    bucket_of,
    bucket_upper_days,
    rebuild,
)
from tests import factories

UTC = dt.UTC


def rollups(session: Session, jurisdiction_id: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Every non-zero rollup row of a jurisdiction (plain tuples: never stale ORM objects)."""
    d = DailyCount
    daily = {
        (row.dimension, row.day, row.value): tuple(row[4:])
        for row in session.execute(
            sa.select(
                d.dimension,
                d.day,
                d.value,
                d.jurisdiction_id,
                d.opened,
                d.closed,
                d.closed_with_target,
                d.closed_on_time,
                d.open_now,
            ).where(d.jurisdiction_id == jurisdiction_id)
        )
        if any(row[4:])
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
    return daily, histogram


def assert_matches_rebuild(app: Flask, jurisdiction_id: int) -> tuple[dict[Any, Any], ...]:
    """The incremental rollups equal a rebuild (done in a transaction then rolled back)."""
    with get_db(app).session() as other:
        incremental = rollups(other, jurisdiction_id)
        rebuild(other, jurisdiction_id)
        rebuilt = rollups(other, jurisdiction_id)
        other.rollback()
    assert incremental == rebuilt
    return incremental


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def city(session: Session) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="rollup-city")
    session.commit()
    return city


def types_of(session: Session, city: Jurisdiction) -> dict[str, ServiceType]:
    found = session.scalars(sa.select(ServiceType).where(ServiceType.jurisdiction_id == city.id))
    return {t.code: t for t in found}


def test_buckets_are_hours_for_two_days_then_days_for_a_year():
    assert bucket_of(-5) == 0
    assert bucket_of(59 * 60) == 0
    assert bucket_of(3600) == 1
    assert bucket_of(2 * 86400 - 1) == 47
    assert bucket_of(2 * 86400) == 48
    assert bucket_of(364.9 * 86400) == 410
    assert bucket_of(365 * 86400) == OVERFLOW_BUCKET
    assert bucket_upper_days(0) == pytest.approx(1 / 24)
    assert bucket_upper_days(47) == 2
    assert bucket_upper_days(48) == 3
    assert bucket_upper_days(410) == 365
    assert bucket_upper_days(OVERFLOW_BUCKET) is None


def test_every_kind_of_change_keeps_the_rollups_equal_to_a_rebuild(
    app: Flask, session: Session, city: Jurisdiction
):
    types = types_of(session, city)
    pothole, pickup = types["pothole"], types["missed-pickup"]
    cases = [
        factories.make_case(
            session,
            city,
            service_type=pothole if n % 2 else pickup,
            channel=[Channel.SMS, Channel.VOICE, Channel.EMAIL][n % 3],
            district=["Ward 1", None, "Ward 2"][n % 3],
            created_at=at(f"2026-01-{n + 1:02d}", hour=n * 2),
        )
        for n in range(9)
    ]
    session.commit()
    daily, _ = assert_matches_rebuild(app, city.id)
    assert sum(v[0] for k, v in daily.items() if k[0] == "all") == 9
    assert sum(v[4] for k, v in daily.items() if k[0] == "all") == 9  # all open

    # Status changes through the service: resolved, closed, reopened.
    with app.app_context():  # resolving tells the resident, through the app's channels
        change_status(session, cases[0], CaseStatus.RESOLVED, agent=None)
        change_status(session, cases[1], CaseStatus.CLOSED, agent=None)
        change_status(session, cases[2], CaseStatus.RESOLVED, agent=None)
        session.commit()
        change_status(session, cases[2], CaseStatus.OPEN, agent=None)  # reopened: open again
        change_status(session, cases[1], CaseStatus.OPEN, agent=None)
        session.commit()
    daily, histogram = assert_matches_rebuild(app, city.id)
    assert sum(v[1] for k, v in daily.items() if k[0] == "all") == 1
    assert sum(histogram.values()) == 1

    # Times set directly (an import's history), a service type by relationship and by id,
    # a district, a channel, a due date, a creation date moved across months.
    cases[3].status = CaseStatus.CLOSED
    cases[3].closed_at = at("2026-02-10")
    cases[4].service_type = pickup
    cases[5].service_type_id = None
    cases[6].district = "Ward 9"
    cases[6].origin_channel = Channel.OPEN311
    cases[7].created_at = at("2025-12-31", hour=4)  # 23:00 on Dec 30 in Toronto
    cases[0].due_at = None
    session.commit()
    assert_matches_rebuild(app, city.id)

    # An attribute changed after it was expired (its old value is not in memory).
    session.expire(cases[8])
    cases[8].status = CaseStatus.RESOLVED
    cases[8].resolved_at = at("2026-03-01")
    session.commit()
    assert_matches_rebuild(app, city.id)

    # Several flushes in one transaction, then a case deleted.
    cases[3].resolved_at = at("2026-02-05")
    session.flush()
    cases[3].service_type = pothole
    session.flush()
    victim = cases[8]
    session.execute(sa.delete(CaseEvent).where(CaseEvent.case_id == victim.id))
    session.expire(victim)  # nothing of it in memory when it goes
    session.delete(victim)
    session.commit()
    daily, _ = assert_matches_rebuild(app, city.id)
    assert sum(v[0] for k, v in daily.items() if k[0] == "all") == 8


def test_rolled_back_changes_leave_no_trace(app: Flask, session: Session, city: Jurisdiction):
    case = factories.make_case(session, city, created_at=at("2026-01-05"))
    session.commit()
    before = assert_matches_rebuild(app, city.id)

    with app.app_context():
        change_status(session, case, CaseStatus.RESOLVED, agent=None)
    session.rollback()
    assert assert_matches_rebuild(app, city.id) == before

    with session.begin_nested() as savepoint:
        case.district = "Ward 3"
        session.flush()
        savepoint.rollback()
    other = factories.make_case(session, city, created_at=at("2026-01-06"))
    with session.begin_nested():
        other.district = "Ward 4"  # released: it counts
    session.commit()
    daily, _ = assert_matches_rebuild(app, city.id)
    assert ("district", dt.date(2026, 1, 6), "Ward 4") in daily
    assert not any(k[2] == "Ward 3" for k in daily)


def test_a_jurisdictions_rebuild_leaves_the_others_alone(
    app: Flask, session: Session, city: Jurisdiction
):
    other = factories.make_jurisdiction(session, slug="other-city")
    factories.make_case(session, city, created_at=at("2026-01-05"))
    factories.make_case(session, other, created_at=at("2026-01-05"))
    session.commit()
    mine = rollups(session, other.id)
    rebuild(session, city.id)
    session.commit()
    assert rollups(session, other.id) == mine
    assert rollups(session, city.id)[0][("all", dt.date(2026, 1, 5), "")][0] == 1


def test_rebuild_command_rebuilds_one_or_every_jurisdiction(
    app: Flask, session: Session, city: Jurisdiction
):
    factories.make_case(session, city, created_at=at("2026-01-05"))
    session.commit()
    expected = rollups(session, city.id)
    session.execute(sa.delete(DailyCount))
    session.commit()

    def invoke(*args: str) -> Any:
        info = ScriptInfo(create_app=lambda: app)
        return CliRunner().invoke(cli, ["performance", "rebuild", *args], obj=info)

    result = invoke("--jurisdiction", "rollup-city")
    assert result.exit_code == 0, result.output
    assert "rollup-city: rebuilt" in result.output
    assert rollups(session, city.id) == expected
    assert invoke().exit_code == 0
    unknown = invoke("--jurisdiction", "nowhere")
    assert unknown.exit_code != 0 and "nowhere" in unknown.output


def test_a_case_in_the_db_without_events_is_caught_by_rebuild(
    app: Flask, session: Session, city: Jurisdiction
):
    """Bulk statements bypass the events (what an import does); rebuild is the remedy."""
    case = factories.make_case(session, city, created_at=at("2026-01-05"))
    session.commit()
    session.execute(
        sa.update(Case)
        .where(Case.id == case.id)
        .values(status=CaseStatus.RESOLVED, resolved_at=at("2026-01-06"))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    rebuild(session, city.id)
    session.commit()
    assert_matches_rebuild(app, city.id)
    daily, histogram = rollups(session, city.id)
    assert daily[("all", dt.date(2026, 1, 6), "")][1] == 1
    assert sum(histogram.values()) == 1


def test_a_text_and_an_agents_status_changes_reach_the_figures(
    app: Flask, session: Session, jurisdiction: Jurisdiction, send_sms: Any, client: Any
):
    """Through the real paths: the SMS intake (a job) opens a case, the staff API resolves and
    reopens it; the rollups follow without either knowing about them."""
    send_sms("There is a pothole at 12 Main St")
    case = session.scalars(sa.select(Case)).one()
    daily, _ = assert_matches_rebuild(app, jurisdiction.id)
    assert sum(v[0] for k, v in daily.items() if k[0] == "channel" and k[2] == "sms") == 1
    _agent, token = factories.make_agent(session, [jurisdiction])
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for status in ("resolved", "open"):
        response = client.post(
            f"/api/v1/cases/{case.id}/status", headers=headers, json={"status": status}
        )
        assert response.status_code == 200, response.get_json()
        daily, histogram = assert_matches_rebuild(app, jurisdiction.id)
        closed = sum(v[1] for k, v in daily.items() if k[0] == "all")
        assert (closed, sum(histogram.values())) == ((1, 1) if status == "resolved" else (0, 0))


def test_an_imported_history_is_in_the_figures_after_the_imports_rebuild(
    app: Flask, session: Session, client: Any, tmp_path: Any
):
    """New York's sample through the import (bulk statements, no session events), then the
    public figures: every imported request counted once, by borough, on New York's dates."""
    from contactcenter.imports.service import ImportOptions, import_nyc
    from tests.conftest import TESTDATA

    sample = TESTDATA / "311" / "nyc" / "nyc311_2011-03_2000rows_41cols.csv"
    if not sample.exists():
        pytest.skip(f"shared test data absent: {sample}")
    city = factories.make_jurisdiction(session, slug="nyc", name="New York", country="US")
    city.timezone = "America/New_York"
    session.commit()
    import_nyc(session, city, sample, ImportOptions(rejects_path=tmp_path / "rejects.csv"))
    assert_matches_rebuild(app, city.id)

    cases = session.scalar(sa.select(sa.func.count()).where(Case.jurisdiction_id == city.id))
    data = client.get("/public/nyc/performance.json?from=2011-01&to=2011-12").get_json()
    assert data["totals"]["opened"] == cases == 2000
    boroughs = {row["label"]: row["opened"] for row in data["by_district"]}
    assert sum(boroughs.values()) == 2000
    assert set(boroughs) <= {"BRONX", "BROOKLYN", "MANHATTAN", "QUEENS", "STATEN ISLAND", "Unknown"}
    # Checked in the file: one request of February, 1,996 of March, three of November.
    months = {p["start"]: p["opened"] for p in data["trends"]["monthly"] if p["opened"]}
    assert months == {"2011-02-01": 1, "2011-03-01": 1996, "2011-11-01": 3}
    assert data["totals"]["median_days"] is not None
