"""The forecast per local half-hour (:mod:`contactcenter.performance.forecast`) on hand-built
15-minute rollup rows: flat, growing and empty histories, DST weeks, actuals, isolation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.forecast import forecast
from contactcenter.performance.models import ContactInterval
from tests import factories

TORONTO = ZoneInfo("America/Toronto")
MONDAY = dt.date(2026, 2, 16)
"""A forecast start two weeks clear of any DST change (history from 2025-12-22)."""


def slot_of(at: dt.datetime) -> int:
    return int(at.timestamp()) // 900


def add(
    session: Session,
    city: Jurisdiction,
    at: dt.datetime,
    offered: int,
    *,
    channel: str = "voice",
    queue_id: int = 0,
    **measures: int,
) -> None:
    """``offered`` contacts in the 15 minutes starting at aware ``at``."""
    session.add(
        ContactInterval(
            jurisdiction_id=city.id,
            slot=slot_of(at),
            queue_id=queue_id,
            channel=channel,
            offered=offered,
            **measures,
        )
    )


def local(day: dt.date, hour: int, minute: int = 0, fold: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, fold=fold), tzinfo=TORONTO)


def midnight(day: dt.date) -> dt.datetime:
    return local(day, 0).astimezone(dt.UTC)


def by_start(points: list[Any]) -> dict[dt.datetime, Any]:
    return {p.start: p for p in points}


def test_a_flat_history_forecasts_the_same_week_again(
    session: Session, jurisdiction: Jurisdiction, count_queries: Callable[[], Any]
) -> None:
    for week in range(1, 9):
        monday = MONDAY - dt.timedelta(weeks=week)
        add(session, jurisdiction, local(monday, 9), 2)
        add(session, jurisdiction, local(monday, 9, 15), 2)
        add(session, jurisdiction, local(monday + dt.timedelta(days=1), 10, 30), 6)
    session.commit()

    with count_queries() as counter:
        result = forecast(
            session, jurisdiction, channel="voice", start=MONDAY, now=midnight(MONDAY)
        )
    assert counter.count == 1
    assert len(result.points) == 2 * 7 * 48
    assert result.trend_per_week == 0.0
    assert result.weekly_totals == [10] * 8
    points = by_start(result.points)
    for week in (0, 1):
        monday = MONDAY + dt.timedelta(weeks=week)
        assert points[local(monday, 9)].forecast == pytest.approx(4.0)
        assert points[local(monday, 9, 30)].forecast == 0.0
        assert points[local(monday + dt.timedelta(days=1), 10, 30)].forecast == pytest.approx(6.0)
    assert sum(p.forecast for p in result.points) == pytest.approx(20.0)
    assert all(p.actual is None for p in result.points)
    assert result.points[0].start == local(MONDAY, 0)
    assert result.points[0].start.utcoffset() == dt.timedelta(hours=-5)


def test_a_growing_history_trends_up_along_the_fitted_line(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    # Week i (0 = eight weeks ago) has 10 + 2i contacts, all on Monday at 09:00: the weekly
    # totals lie on y = 9 + 2x, x in weeks from the first week's start.
    for i in range(8):
        monday = MONDAY - dt.timedelta(weeks=8 - i)
        add(session, jurisdiction, local(monday, 9), 10 + 2 * i)
    session.commit()

    result = forecast(session, jurisdiction, channel="voice", start=MONDAY, now=midnight(MONDAY))
    assert result.trend_per_week == pytest.approx(2 / 17, abs=1e-4)
    points = by_start(result.points)
    first, second = points[local(MONDAY, 9)], points[local(MONDAY + dt.timedelta(weeks=1), 9)]
    history_start = midnight(MONDAY - dt.timedelta(weeks=8))
    for point in (first, second):
        middle = point.start + dt.timedelta(minutes=15) - history_start
        x = middle / dt.timedelta(weeks=1)
        assert point.forecast == pytest.approx(9 + 2 * x, abs=1e-3)
    assert 25 < first.forecast < second.forecast < 28


def test_an_empty_history_forecasts_zeros(session: Session, jurisdiction: Jurisdiction) -> None:
    result = forecast(session, jurisdiction, channel=None, start=MONDAY, now=midnight(MONDAY))
    assert len(result.points) == 2 * 7 * 48
    assert {p.forecast for p in result.points} == {0.0}
    assert result.weekly_totals == []
    assert result.history_start == result.history_end == MONDAY


def test_a_falling_history_is_never_forecast_below_zero(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    for i, count in enumerate([40, 30, 20, 10, 1]):
        add(session, jurisdiction, local(MONDAY - dt.timedelta(weeks=5 - i), 9), count)
    session.commit()
    result = forecast(session, jurisdiction, channel="voice", start=MONDAY, now=midnight(MONDAY))
    assert all(p.forecast >= 0.0 for p in result.points)
    assert by_start(result.points)[local(MONDAY + dt.timedelta(weeks=1), 9)].forecast == 0.0


def test_weeks_before_the_first_contact_are_not_counted_as_zeros(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    for week in range(1, 4):
        add(session, jurisdiction, local(MONDAY - dt.timedelta(weeks=week), 9), 5)
    session.commit()
    result = forecast(session, jurisdiction, channel="voice", start=MONDAY, now=midnight(MONDAY))
    assert result.weekly_totals == [5, 5, 5]
    assert result.history_start == MONDAY - dt.timedelta(weeks=3)
    assert by_start(result.points)[local(MONDAY, 9)].forecast == pytest.approx(5.0)


def test_a_half_empty_first_week_is_no_trend_and_its_missing_days_are_not_zeros(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    # Service began on a Thursday three weeks and a half ago: every weekday has 4 contacts at
    # 09:00 since. The first week's Monday to Wednesday are unknown, not zero.
    first = MONDAY - dt.timedelta(weeks=4) + dt.timedelta(days=3)
    day = first
    while day < MONDAY:
        if day.weekday() < 5:
            add(session, jurisdiction, local(day, 9), 4)
        day += dt.timedelta(days=1)
    session.commit()
    result = forecast(session, jurisdiction, channel="voice", start=MONDAY, now=midnight(MONDAY))
    assert result.weekly_totals == [20, 20, 20]
    assert result.trend_per_week == 0.0
    assert result.history_start == first
    points = by_start(result.points)
    for offset in range(5):
        assert points[local(MONDAY + dt.timedelta(days=offset), 9)].forecast == pytest.approx(4.0)


def test_less_than_a_week_of_history_is_the_profile_without_trend(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    add(session, jurisdiction, local(MONDAY - dt.timedelta(days=3), 9), 6)  # Friday
    session.commit()
    result = forecast(session, jurisdiction, channel="voice", start=MONDAY, now=midnight(MONDAY))
    assert result.weekly_totals == []
    points = by_start(result.points)
    assert points[local(MONDAY + dt.timedelta(days=4), 9)].forecast == pytest.approx(6.0)
    assert points[local(MONDAY, 9)].forecast == 0.0


def test_the_median_profile_ignores_one_odd_week(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    for week, count in zip(range(1, 6), [4, 4, 40, 4, 4], strict=True):
        add(session, jurisdiction, local(MONDAY - dt.timedelta(weeks=week), 9), count)
    session.commit()
    kwargs: dict[str, Any] = {"channel": "voice", "start": MONDAY, "now": midnight(MONDAY)}
    mean = by_start(forecast(session, jurisdiction, **kwargs).points)[local(MONDAY, 9)]
    median = by_start(forecast(session, jurisdiction, profile="median", **kwargs).points)[
        local(MONDAY, 9)
    ]
    assert mean.forecast > 10
    assert median.forecast == pytest.approx(4.0, abs=0.5)


def test_actuals_are_filled_in_for_half_hours_that_have_ended(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    add(session, jurisdiction, local(MONDAY, 9), 3)
    add(session, jurisdiction, local(MONDAY, 9, 15), 4)
    add(session, jurisdiction, local(MONDAY, 10), 7)
    session.commit()
    now = local(MONDAY, 10, 20).astimezone(dt.UTC)
    points = by_start(
        forecast(session, jurisdiction, channel="voice", start=MONDAY, weeks=1, now=now).points
    )
    assert points[local(MONDAY, 9)].actual == 7
    assert points[local(MONDAY, 9, 30)].actual == 0
    assert points[local(MONDAY, 10)].actual is None  # not over yet
    assert points[local(MONDAY, 11)].actual is None


def test_only_the_channel_measure_and_jurisdiction_asked_for_count(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    elsewhere = factories.make_jurisdiction(session, slug="shelbyville")
    for week in range(1, 3):
        monday = MONDAY - dt.timedelta(weeks=week)
        add(session, jurisdiction, local(monday, 9), 2, queue_id=1)
        add(session, jurisdiction, local(monday, 9), 3, queue_id=2)
        add(session, jurisdiction, local(monday, 9), 50, channel="sms")
        add(session, jurisdiction, local(monday, 12), 0, channel="sms", queue_id=0, inbound=8)
        add(session, elsewhere, local(monday, 9), 100)
    session.commit()
    kwargs: dict[str, Any] = {"start": MONDAY, "now": midnight(MONDAY)}
    voice = by_start(forecast(session, jurisdiction, channel="voice", **kwargs).points)
    assert voice[local(MONDAY, 9)].forecast == pytest.approx(5.0)
    every = by_start(forecast(session, jurisdiction, channel=None, **kwargs).points)
    assert every[local(MONDAY, 9)].forecast == pytest.approx(55.0)
    one_queue = by_start(
        forecast(session, jurisdiction, channel="voice", queue_id=2, **kwargs).points
    )
    assert one_queue[local(MONDAY, 9)].forecast == pytest.approx(3.0)
    inbound = by_start(
        forecast(session, jurisdiction, channel="sms", measure="inbound", **kwargs).points
    )
    assert inbound[local(MONDAY, 12)].forecast == pytest.approx(8.0)
    assert inbound[local(MONDAY, 9)].forecast == 0.0


def test_spring_forward_skips_the_half_hours_that_do_not_exist(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    start = dt.date(2026, 3, 2)  # clocks go from 02:00 to 03:00 on Sunday 8 March
    sunday = dt.date(2026, 3, 8)
    for week in range(1, 5):
        add(session, jurisdiction, local(sunday - dt.timedelta(weeks=week), 1, 30), 4)
        add(session, jurisdiction, local(sunday - dt.timedelta(weeks=week), 3), 6)
    session.commit()
    result = forecast(
        session, jurisdiction, channel="voice", start=start, weeks=1, now=midnight(start)
    )
    assert len(result.points) == 7 * 48 - 2
    on_sunday = [p.start for p in result.points if p.start.date() == sunday]
    assert [t.strftime("%H:%M") for t in on_sunday[:6]] == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "03:00",
        "03:30",
    ]
    points = by_start(result.points)
    assert points[local(sunday, 1, 30)].forecast == pytest.approx(4.0)
    assert points[local(sunday, 3)].forecast == pytest.approx(6.0)
    assert points[local(sunday, 3)].start.utcoffset() == dt.timedelta(hours=-4)


def test_fall_back_repeats_the_half_hours_each_with_its_own_actual(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    start = dt.date(2026, 10, 26)  # clocks go from 02:00 back to 01:00 on Sunday 1 November
    sunday = dt.date(2026, 11, 1)
    for week in range(1, 5):
        add(session, jurisdiction, local(sunday - dt.timedelta(weeks=week), 1), 6)
    add(session, jurisdiction, local(sunday, 1, fold=0), 3)
    add(session, jurisdiction, local(sunday, 1, fold=1), 5)
    session.commit()
    result = forecast(
        session,
        jurisdiction,
        channel="voice",
        start=start,
        weeks=1,
        now=midnight(start + dt.timedelta(weeks=1)),
    )
    assert len(result.points) == 7 * 48 + 2
    at_one = [p for p in result.points if p.start.date() == sunday and p.start.hour == 1]
    assert [p.start.strftime("%H:%M %z") for p in at_one] == [
        "01:00 -0400",
        "01:30 -0400",
        "01:00 -0500",
        "01:30 -0500",
    ]
    assert [p.actual for p in at_one] == [3, 0, 5, 0]
    assert [p.forecast for p in at_one] == pytest.approx([6.0, 0.0, 6.0, 0.0])


def test_a_dst_week_in_the_history_does_not_lower_the_missing_half_hours(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    start = dt.date(2026, 3, 16)
    for week in range(0, 5):
        sunday = start - dt.timedelta(weeks=week, days=1)
        add(session, jurisdiction, local(sunday, 1, 30), 8)
        if sunday != dt.date(2026, 3, 8):  # 02:30 did not exist that Sunday
            add(session, jurisdiction, local(sunday, 2, 30), 8)
    session.commit()
    result = forecast(session, jurisdiction, channel="voice", start=start, now=midnight(start))
    sunday = start + dt.timedelta(days=6)
    points = by_start(result.points)
    # The same profile (8) as the half-hour before, scaled by the same trend (to an hour's drift).
    assert points[local(sunday, 2, 30)].forecast == pytest.approx(
        points[local(sunday, 1, 30)].forecast, rel=1e-3
    )


def test_the_history_ends_today_when_the_forecast_starts_later(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    today = MONDAY - dt.timedelta(days=3)  # Friday
    add(session, jurisdiction, local(today - dt.timedelta(days=4), 9), 5)  # Monday before
    session.commit()
    result = forecast(session, jurisdiction, channel="voice", start=MONDAY, now=midnight(today))
    assert result.history_end == today
    assert by_start(result.points)[local(MONDAY, 9)].forecast > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"measure": "answered"}, "measure must be one of"),
        ({"profile": "mode"}, "profile must be one of"),
        ({"weeks": 0}, "weeks must be a whole number from 1 to 12"),
        ({"weeks": 13}, "weeks must be a whole number from 1 to 12"),
        ({"history_weeks": 0}, "history_weeks must be a whole number from 1 to 26"),
        ({"start": dt.date(9999, 12, 25)}, "start must be between"),
        ({"channel": "x" * 17}, "channel must be 1 to 16 characters"),
        ({"measure": "inbound", "queue_id": 3}, "inbound interactions have no queue"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    session: Session, jurisdiction: Jurisdiction, change: dict[str, Any], message: str
) -> None:
    kwargs: dict[str, Any] = {"channel": "voice", "start": MONDAY, **change}
    with pytest.raises(ValueError, match=message):
        forecast(session, jurisdiction, **kwargs)
