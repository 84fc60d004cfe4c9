"""Each public performance figure on a small hand-built history with known answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.cases.models import CaseStatus
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.figures import (
    Figures,
    Period,
    parse_period,
    performance_figures,
)
from tests import factories

UTC = dt.UTC
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
TODAY = dt.date(2026, 3, 20)
Q1 = Period(dt.date(2026, 1, 1), dt.date(2026, 3, 1))


def z(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def city(session: Session) -> Jurisdiction:
    """Springfield in Toronto's time zone, with pothole (target 5 days), missed pickup (2 days)
    and graffiti (no target)."""
    city = factories.make_jurisdiction(session, slug="figures-city")
    session.add(
        ServiceType(jurisdiction_id=city.id, code="graffiti", name="Graffiti", target_days=None)
    )
    session.commit()
    return city


@pytest.fixture
def case(session: Session, city: Jurisdiction) -> Callable[..., Any]:
    types = {
        t.code: t
        for t in session.scalars(
            sa.select(ServiceType).where(ServiceType.jurisdiction_id == city.id)
        )
    }

    def make(service: str | None = "pothole", **fields: Any) -> Any:
        fields.setdefault("due_at", None)
        made = factories.make_case(
            session, city, service_type=types[service] if service else None, **fields
        )
        session.commit()
        return made

    return make


def figures_of(session: Session, city: Jurisdiction, period: Period = Q1) -> Figures:
    return performance_figures(session, city, period, TODAY)


def by_code(figures: Figures) -> dict[str, Any]:
    return {row.counts.key: row for row in figures.by_service_type}


def test_median_p90_and_on_time_per_service_type_and_overall(session, city, case):
    start = z("2026-01-05T15:00")
    case(
        created_at=start,
        status=CaseStatus.RESOLVED,
        resolved_at=start + 3 * H,
        due_at=start + 5 * D,
    )
    b = start + D
    case(created_at=b, status=CaseStatus.RESOLVED, resolved_at=b + 2.5 * D, due_at=b + 5 * D)
    c = start + 2 * D
    case(created_at=c, status=CaseStatus.RESOLVED, resolved_at=c + 10.2 * D, due_at=c + 5 * D)
    # Opened long before the period, closed (not resolved) in it after more than a year.
    old = z("2024-12-01T15:00")
    case(
        created_at=old,
        status=CaseStatus.CLOSED,
        closed_at=z("2026-02-10T15:00"),
        due_at=old + 5 * D,
    )
    e = z("2026-02-01T15:00")
    case("graffiti", created_at=e, status=CaseStatus.RESOLVED, resolved_at=e + 30 * H)

    figures = figures_of(session, city)
    pothole, graffiti = by_code(figures)["pothole"], by_code(figures)["graffiti"]
    assert (pothole.counts.opened, pothole.counts.closed) == (3, 4)
    # Buckets: 3 h -> "4 h", 2.5 days -> "3 days", 10.2 days -> "11 days", 436 days -> over.
    assert pothole.close_time.median_days == 3  # rank 2 of 4
    assert pothole.close_time.p90_days is None  # rank 4 of 4: over a year
    assert pothole.close_time.as_dict()["p90_over_a_year"] is True
    assert pothole.target_days == 5
    assert (pothole.counts.closed_with_target, pothole.counts.closed_on_time) == (4, 2)
    assert pothole.counts.on_time_percent == 50.0
    # No target: closed, timed, but outside the on-time percentage.
    assert graffiti.close_time.median_days == pytest.approx(31 / 24)
    assert graffiti.close_time.p90_days == pytest.approx(31 / 24)
    assert graffiti.counts.closed_with_target == 0
    assert graffiti.counts.on_time_percent is None
    assert graffiti.target_days is None
    assert "missed-pickup" not in by_code(figures)  # nothing happened to it
    # Overall: buckets 3 h, 30 h, 2 d, 10 d, over a year; rank 3 is the median, rank 5 the p90.
    assert (figures.totals.opened, figures.totals.closed) == (4, 5)
    assert figures.close_time.median_days == 3
    assert figures.close_time.p90_days is None
    assert figures.totals.on_time_percent == 50.0
    assert figures.totals.closed_without_target == 1


def test_a_reopened_case_is_open_again_and_not_closed(session, city, case):
    made = case(created_at=z("2026-03-01T15:00"), due_at=z("2026-03-06T15:00"))
    made.status = CaseStatus.RESOLVED
    made.resolved_at = z("2026-03-02T15:00")
    session.commit()
    assert figures_of(session, city).totals.closed == 1
    made.status = CaseStatus.OPEN
    made.resolved_at = None
    session.commit()
    figures = figures_of(session, city)
    assert (figures.totals.opened, figures.totals.closed) == (1, 0)
    assert figures.close_time.median_days is None
    assert [b.cases for b in figures.backlog] == [0, 0, 1, 0, 0]  # 19 days old


def test_backlog_by_age_in_local_days(session, city, case):
    for day in ("03-20", "03-18", "03-17", "03-13", "03-12", "02-18", "02-17"):
        case(created_at=z(f"2026-{day}T17:00"))
    case(created_at=z("2025-12-20T17:00"))  # 90 days before today
    case(created_at=z("2025-12-19T17:00"))  # 91
    case(created_at=z("2026-03-20T03:30"))  # 23:30 on the 19th in Toronto: 1 day old
    closed = case(created_at=z("2026-03-19T17:00"), status=CaseStatus.CLOSED)
    closed.closed_at = z("2026-03-19T18:00")
    session.commit()
    figures = figures_of(session, city)
    assert [(b.label, b.cases) for b in figures.backlog] == [
        ("0-2 days", 3),
        ("3-7 days", 2),
        ("8-30 days", 2),
        ("31-90 days", 2),
        ("over 90 days", 1),
    ]
    assert figures.backlog_total == 10


def test_dates_are_local_across_midnight_and_daylight_saving(session, city, case):
    case(created_at=z("2026-01-31T23:30"))  # 18:30 on Jan 31 in Toronto
    case(created_at=z("2026-02-01T04:59"))  # 23:59 on Jan 31 (EST): still January
    late = case(created_at=z("2026-02-27T15:00"), status=CaseStatus.RESOLVED)
    late.resolved_at = z("2026-03-01T04:30")  # 23:30 on Feb 28: closed in February
    session.commit()
    case(created_at=z("2026-03-08T04:30"))  # 23:30 EST on Saturday Mar 7
    case(created_at=z("2026-03-09T04:30"))  # 00:30 EDT on Monday Mar 9 (UTC-4 since Mar 8)
    figures = figures_of(session, city)
    monthly = {p.start.isoformat(): (p.counts.opened, p.counts.closed) for p in figures.monthly}
    assert monthly == {"2026-01-01": (2, 0), "2026-02-01": (1, 1), "2026-03-01": (2, 0)}
    weekly = {p.start.isoformat(): p.counts.opened for p in figures.weekly}
    assert weekly["2026-03-02"] == 1
    assert weekly["2026-03-09"] == 1
    assert weekly["2026-01-26"] == 2  # Jan 31 is a Saturday
    assert weekly["2026-02-23"] == 1
    assert min(weekly) == "2025-12-29"  # the Monday of Jan 1's week (a cut week)
    assert max(weekly) == "2026-03-30"
    assert figures.close_time.median_days == pytest.approx(38 / 24)  # 37.5 h, shown as 38 h


def test_weekly_and_monthly_trends_count_on_time(session, city, case):
    a = z("2026-02-02T15:00")  # a Monday
    case(created_at=a, status=CaseStatus.RESOLVED, resolved_at=a + 1 * D, due_at=a + 2 * D)
    case(created_at=a, status=CaseStatus.RESOLVED, resolved_at=a + 3 * D, due_at=a + 2 * D)
    case(created_at=a, status=CaseStatus.RESOLVED, resolved_at=a + 8 * D, due_at=a + 9 * D)
    figures = figures_of(session, city)
    feb = next(p for p in figures.monthly if p.start == dt.date(2026, 2, 1))
    assert (feb.counts.opened, feb.counts.closed, feb.counts.on_time_percent) == (3, 3, 66.7)
    weeks = {p.start: p.counts for p in figures.weekly}
    first, second = weeks[dt.date(2026, 2, 2)], weeks[dt.date(2026, 2, 9)]
    assert (first.opened, first.closed, first.on_time_percent) == (3, 2, 50.0)
    assert (second.opened, second.closed, second.on_time_percent) == (0, 1, 100.0)


def test_requests_by_channel_and_district(session, city, case):
    case(created_at=z("2026-01-10T15:00"), channel=Channel.VOICE, district="Ward 2")
    case(created_at=z("2026-01-10T15:00"), channel=Channel.VOICE, district=None)
    case(created_at=z("2026-01-10T15:00"), channel=Channel.OPEN311, district="Ward 1")
    case(None, created_at=z("2026-01-10T15:00"), channel=Channel.SMS, district="Ward 1")
    case(created_at=z("2025-06-10T15:00"), channel=Channel.EMAIL)  # before the period
    figures = figures_of(session, city)
    assert [(c.label, c.opened) for c in figures.by_channel] == [
        ("Phone", 2),
        ("Apps (Open311)", 1),
        ("Text message", 1),
    ]
    assert [(c.label, c.opened) for c in figures.by_district] == [
        ("Ward 1", 2),
        ("Ward 2", 1),
        ("Unknown", 1),
    ]
    types = {row.counts.label: row.counts.opened for row in figures.by_service_type}
    assert types == {"Pothole": 3, "Not classified": 1}


def test_an_empty_period_has_zeros_and_no_medians(session, city, case):
    case(created_at=z("2025-06-10T15:00"))
    figures = figures_of(session, city)
    assert (figures.totals.opened, figures.totals.closed) == (0, 0)
    assert figures.close_time.median_days is None and figures.close_time.p90_days is None
    assert figures.totals.on_time_percent is None
    assert figures.by_service_type == [] and figures.by_channel == [] and figures.by_district == []
    assert [p.counts.opened for p in figures.monthly] == [0, 0, 0]
    assert sum(b.cases for b in figures.backlog) == 1  # still open, over 90 days
    data = figures.as_dict()
    assert data["totals"]["median_days"] is None
    assert len(data["definitions"]) >= 8


def test_the_figures_cost_the_same_queries_whatever_the_data_or_period(
    session, city, case, count_queries
):
    case(created_at=z("2026-01-10T15:00"))
    with count_queries() as small:
        figures_of(session, city, Period(dt.date(2026, 3, 1), dt.date(2026, 3, 1)))
    session.rollback()
    for n in range(30):
        made = case(
            ("pothole", "graffiti", "missed-pickup", None)[n % 4],
            created_at=z("2024-01-10T15:00") + n * 23 * D,
            district=f"Ward {n % 7}",
            channel=list(Channel)[n % len(Channel)],
        )
        made.status = CaseStatus.RESOLVED
        made.resolved_at = made.created_at + n * 7 * H
    session.commit()
    with count_queries() as large:
        figures = figures_of(session, city, Period(dt.date(2023, 4, 1), dt.date(2026, 3, 1)))
    assert figures.totals.opened == 31
    assert small.count == large.count == 5, large.statements
    assert not any("FROM cases" in s for s in large.statements)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (None, None, ("2025-04", "2026-03")),
        ("2026-01", None, ("2026-01", "2026-03")),
        (None, "2025-12", ("2025-01", "2025-12")),
        ("2024-04", "2027-03", ("2024-04", "2027-03")),
        (" 2026-02 ", "2026-02", ("2026-02", "2026-02")),
    ],
)
def test_periods_default_to_the_last_twelve_months(first, last, expected):
    period = parse_period(first, last, TODAY)
    assert (period.as_params()["from"], period.as_params()["to"]) == expected


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-1", None, "YYYY-MM"),
        ("2026-13", None, "between"),
        ("1969-12", "1970-01", "between"),
        ("2026-03", "2026-01", "after"),
        ("2023-03", "2026-03", "at most 36 months"),
        ("<script>", None, "YYYY-MM"),
    ],
)
def test_bad_periods_are_refused_with_a_message(first, last, message):
    with pytest.raises(Invalid, match=message):
        parse_period(first, last, TODAY)
