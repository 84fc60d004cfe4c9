"""Business-hours calendars: opening periods, midnight, DST, holidays, validation, speed."""

from __future__ import annotations

import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

from contactcenter.sla.calendar import (
    ALWAYS_OPEN,
    MAX_CLOSED_DAYS,
    BusinessCalendar,
    CalendarError,
)

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
LUNCH_BREAK = [["08:00", "12:00"], ["13:00", "17:00"]]
OFFICE_CONFIG: dict[str, Any] = {
    "timezone": "America/New_York",
    "hours": {day: LUNCH_BREAK for day in WEEKDAYS},
}
NIGHT_SHIFT_CONFIG: dict[str, Any] = {
    "timezone": "America/New_York",
    "hours": {"sat": [["22:00", "24:00"]], "sun": [["00:00", "06:00"]]},
}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def office(**extra: Any) -> BusinessCalendar:
    return BusinessCalendar.from_config({**OFFICE_CONFIG, **extra})


def open_on(zone: str, days: dict[str, list[list[str]]]) -> BusinessCalendar:
    return BusinessCalendar.from_config({"timezone": zone, "hours": days})


# Weekday hours


def test_weekday_hours_with_lunch_break_count_only_open_time():
    calendar = office()
    monday = (2026, 3, 2)
    assert calendar.between(ny(*monday, 0), ny(*monday, 23)) == timedelta(hours=8)
    assert calendar.add(ny(*monday, 11), timedelta(hours=2)) == ny(*monday, 14)
    assert calendar.between(ny(*monday, 11, 30), ny(*monday, 13, 30)) == timedelta(hours=1)
    assert not calendar.is_open(ny(*monday, 12, 30))
    assert calendar.next_open(ny(*monday, 12, 30)) == ny(*monday, 13)


def test_open_exactly_at_period_start_and_closed_exactly_at_its_end():
    calendar = office()
    assert calendar.is_open(ny(2026, 3, 2, 8))
    assert calendar.is_open(ny(2026, 3, 2, 11, 59, 59, 999_999))
    assert not calendar.is_open(ny(2026, 3, 2, 12))
    assert not calendar.is_open(ny(2026, 3, 2, 7, 59, 59, 999_999))
    assert not calendar.is_open(ny(2026, 3, 2, 17))


def test_add_ending_exactly_at_closing_returns_the_closing_instant():
    calendar = office()
    assert calendar.add(ny(2026, 3, 2, 8), timedelta(hours=8)) == ny(2026, 3, 2, 17)
    assert calendar.add(ny(2026, 3, 2, 8), timedelta(hours=4)) == ny(2026, 3, 2, 12)


def test_instants_in_any_zone_mean_the_same_moment_and_results_are_utc():
    calendar = office()
    at_nine_in_new_york = datetime(2026, 3, 2, 14, tzinfo=UTC)
    same_in_tokyo = at_nine_in_new_york.astimezone(ZoneInfo("Asia/Tokyo"))
    assert calendar.is_open(at_nine_in_new_york) and calendar.is_open(same_in_tokyo)
    due = calendar.add(same_in_tokyo, timedelta(hours=1))
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert calendar.next_open(ny(2026, 3, 2, 9)).tzinfo is UTC


def test_unsorted_periods_are_sorted_and_touching_periods_join():
    unsorted = open_on("UTC", {"mon": [["13:00", "17:00"], ["08:00", "12:00"]]})
    assert unsorted.weekly[0] == ((time(8), time(12)), (time(13), time(17)))
    assert unsorted == open_on("UTC", {"mon": [["08:00", "12:00"], ["13:00", "17:00"]]})
    assert hash(unsorted) == hash(open_on("UTC", {"mon": [["08:00", "12:00"], ["13:00", "17:00"]]}))
    touching = open_on("UTC", {"mon": [["08:00", "12:00"], ["12:00", "17:00"]]})
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    assert touching.is_open(monday.replace(hour=12))
    assert touching.between(monday, monday + timedelta(days=1)) == timedelta(hours=9)


def test_missing_days_are_closed_and_missing_timezone_uses_the_default():
    calendar = BusinessCalendar.from_config(
        {"hours": {"mon": [["08:00", "17:00"]]}}, default_timezone="America/Chicago"
    )
    assert calendar.timezone == "America/Chicago"
    assert calendar.weekly[1] == ()
    assert calendar.add(
        datetime(2026, 3, 2, 8, tzinfo=ZoneInfo("America/Chicago")), timedelta(hours=10)
    ) == datetime(2026, 3, 9, 9, tzinfo=ZoneInfo("America/Chicago"))


# Midnight


def test_period_ending_at_midnight_continues_into_next_morning():
    calendar = BusinessCalendar.from_config(NIGHT_SHIFT_CONFIG)
    saturday_night, sunday = ny(2026, 3, 14, 23), (2026, 3, 15)
    assert calendar.add(saturday_night, timedelta(hours=2)) == ny(*sunday, 1)
    assert calendar.between(ny(2026, 3, 14, 21), ny(*sunday, 7)) == timedelta(hours=8)
    assert calendar.is_open(ny(*sunday, 0))
    assert calendar.next_open(ny(*sunday, 0)) == ny(*sunday, 0)
    assert not calendar.is_open(ny(*sunday, 6))


def test_add_from_just_before_midnight_crosses_into_next_day():
    calendar = BusinessCalendar.from_config(NIGHT_SHIFT_CONFIG)
    just_before = ny(2026, 3, 14, 23, 59, 59)
    assert calendar.add(just_before, timedelta(seconds=2)) == ny(2026, 3, 15, 0, 0, 1)


# Daylight saving time


def test_spring_forward_day_open_all_day_lasts_23_real_hours():
    calendar = open_on("America/New_York", {"sun": [["00:00", "24:00"]]})
    assert calendar.between(ny(2026, 3, 8), ny(2026, 3, 9)) == timedelta(hours=23)
    assert calendar.add(ny(2026, 3, 8), timedelta(hours=23)) == ny(2026, 3, 9)


def test_fall_back_day_open_all_day_lasts_25_real_hours():
    calendar = open_on("America/New_York", {"sun": [["00:00", "24:00"]]})
    assert calendar.between(ny(2026, 11, 1), ny(2026, 11, 2)) == timedelta(hours=25)
    assert calendar.add(ny(2026, 11, 1), timedelta(hours=25)) == ny(2026, 11, 2)


def test_office_hours_keep_their_length_on_dst_days_unless_they_contain_the_change():
    nine_to_five = open_on("America/New_York", {"sun": [["08:00", "17:00"]]})
    for day in ((2026, 3, 8), (2026, 11, 1), (2026, 3, 15)):
        assert nine_to_five.between(ny(*day), ny(*day, 23)) == timedelta(hours=9)
    night = open_on("America/New_York", {"sun": [["00:00", "06:00"]]})
    assert night.between(ny(2026, 3, 8), ny(2026, 3, 8, 12)) == timedelta(hours=5)
    assert night.between(ny(2026, 11, 1), ny(2026, 11, 1, 12)) == timedelta(hours=7)
    assert night.between(ny(2026, 3, 15), ny(2026, 3, 15, 12)) == timedelta(hours=6)


def test_business_time_counts_real_hours_across_the_spring_change():
    calendar = open_on("America/New_York", {day: [["00:00", "24:00"]] for day in ("sat", "sun")})
    saturday_noon = ny(2026, 3, 7, 12)
    assert calendar.add(saturday_noon, timedelta(hours=24)) == ny(2026, 3, 8, 13)


def test_nonexistent_start_time_opens_as_far_after_the_gap_as_it_was_into_it():
    calendar = open_on("America/New_York", {"sun": [["02:30", "05:00"]]})
    spring_forward = (2026, 3, 8)
    opens = calendar.next_open(ny(*spring_forward))
    assert opens == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 02:30 EST == 03:30 EDT
    assert opens == ny(*spring_forward, 3, 30)
    assert calendar.between(ny(*spring_forward), ny(*spring_forward, 12)) == timedelta(hours=1.5)
    assert calendar.between(ny(2026, 3, 15), ny(2026, 3, 15, 12)) == timedelta(hours=2.5)


def test_period_inside_the_gap_is_pushed_past_it_and_overlaps_are_counted_once():
    ends_in_gap = open_on("America/New_York", {"sun": [["00:00", "02:30"], ["03:00", "04:00"]]})
    spring_forward = (2026, 3, 8)
    # 00:00 EST..02:30 EST (= 03:30 EDT) and 03:00 EDT..04:00 EDT overlap in real time.
    assert ends_in_gap.between(ny(*spring_forward), ny(*spring_forward, 12)) == timedelta(hours=3)
    assert not ends_in_gap.is_open(ny(*spring_forward, 4))
    empty_that_day = open_on("America/New_York", {"sun": [["02:30", "03:00"]]})
    assert empty_that_day.between(ny(*spring_forward), ny(*spring_forward, 12)) == timedelta(0)
    assert empty_that_day.next_open(ny(*spring_forward)) == ny(2026, 3, 15, 2, 30)


def test_ambiguous_time_on_fall_back_day_is_its_first_occurrence():
    calendar = open_on("America/New_York", {"sun": [["01:30", "03:00"]]})
    fall_back = (2026, 11, 1)
    assert calendar.next_open(ny(*fall_back)) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT
    assert calendar.between(ny(*fall_back), ny(*fall_back, 12)) == timedelta(hours=2.5)


def test_paris_days_last_23_and_25_hours_on_its_own_change_dates():
    calendar = open_on("Europe/Paris", {"sun": [["00:00", "24:00"]]})
    assert calendar.between(paris(2026, 3, 29), paris(2026, 3, 30)) == timedelta(hours=23)
    assert calendar.between(paris(2026, 10, 25), paris(2026, 10, 26)) == timedelta(hours=25)
    assert calendar.between(paris(2026, 3, 22), paris(2026, 3, 23)) == timedelta(hours=24)
    office_hours = open_on(
        "Europe/Paris", {"fri": [["09:00", "17:00"]], "mon": [["09:00", "17:00"]]}
    )
    friday_four_pm = paris(2026, 3, 27, 16)
    assert office_hours.add(friday_four_pm, timedelta(hours=2)) == paris(2026, 3, 30, 10)
    assert office_hours.add(friday_four_pm, timedelta(hours=2)) == datetime(
        2026, 3, 30, 8, tzinfo=UTC
    )


# Holidays


def test_holiday_on_a_weekday_closes_the_whole_day():
    calendar = office(holidays=["2026-12-25"])
    assert calendar.is_holiday(date(2026, 12, 25))
    assert not calendar.is_open(ny(2026, 12, 25, 10))
    thursday_four_pm = ny(2026, 12, 24, 16)
    assert calendar.add(thursday_four_pm, timedelta(hours=2)) == ny(2026, 12, 28, 9)
    assert office().add(thursday_four_pm, timedelta(hours=2)) == ny(2026, 12, 25, 9)


def test_holiday_on_a_closed_weekend_day_changes_nothing():
    with_holiday = office(holidays=["2026-12-26"])
    week = (ny(2026, 12, 21), ny(2026, 12, 28, 12))
    assert with_holiday.between(*week) == office().between(*week) == timedelta(hours=44)
    assert with_holiday.add(ny(2026, 12, 24, 16), timedelta(hours=2)) == ny(2026, 12, 25, 9)


def test_observed_public_holiday_from_the_country_calendar_is_closed():
    us_2027 = holidays.country_holidays("US", years=2027)
    christmas_observed = next(
        day for day, name in us_2027.items() if name == "Christmas Day (observed)"
    )
    assert christmas_observed.weekday() < 5 and date(2027, 12, 25).weekday() == 5
    calendar = office(holiday_country="US")
    assert calendar.is_holiday(christmas_observed)
    ten_am = datetime.combine(christmas_observed, time(10), tzinfo=NEW_YORK)
    assert not calendar.is_open(ten_am)
    assert office().is_open(ten_am)
    assert calendar.is_open(ny(2027, 12, 23, 10))


def test_country_holidays_follow_the_library_for_each_year_and_subdivision():
    calendar = office(holiday_country="US", holiday_subdivision="NY")
    for year in (2026, 2027, 2031):
        expected = set(holidays.country_holidays("US", subdiv="NY", years=year))
        found = {d for d in _dates_of(year) if calendar.is_holiday(d)}
        assert found == {d for d in expected if d.year == year}
    assert calendar.is_holiday(date(2027, 2, 12))  # Lincoln's Birthday: New York only
    assert not office(holiday_country="US").is_holiday(date(2027, 2, 12))


def test_country_and_subdivision_codes_are_matched_without_regard_to_case():
    calendar = office(holiday_country="us", holiday_subdivision="ny")
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("US", "NY")


def test_case_arriving_on_a_weekend_evening_counts_from_monday_opening():
    calendar = office()
    saturday_evening = ny(2026, 3, 7, 19)
    assert calendar.next_open(saturday_evening) == ny(2026, 3, 9, 8)
    assert calendar.add(saturday_evening, timedelta(hours=1)) == ny(2026, 3, 9, 9)
    assert calendar.between(saturday_evening, ny(2026, 3, 9, 8, 30)) == timedelta(minutes=30)


def test_case_arriving_on_a_holiday_evening_counts_from_the_next_opening():
    calendar = office(holiday_country="US")
    christmas_evening = ny(2026, 12, 25, 20)
    assert calendar.next_open(christmas_evening) == ny(2026, 12, 28, 8)
    assert calendar.add(christmas_evening, timedelta(hours=5)) == ny(2026, 12, 28, 14)


# Durations and instants


def test_zero_duration_is_the_start_itself_even_when_closed():
    calendar = office()
    saturday = ny(2026, 3, 7, 19)
    assert calendar.add(saturday, timedelta(0)) == saturday
    assert calendar.add(saturday, timedelta(0)).tzinfo is UTC
    assert calendar.add(ny(2026, 3, 2, 9), timedelta(0)) == ny(2026, 3, 2, 9)
    assert calendar.add(saturday, timedelta(microseconds=1)) == ny(2026, 3, 9, 8, 0, 0, 1)


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match="negative"):
        office().add(ny(2026, 3, 2, 9), timedelta(minutes=-1))


def test_between_is_zero_when_end_is_not_after_start():
    calendar = office()
    assert calendar.between(ny(2026, 3, 2, 10), ny(2026, 3, 2, 10)) == timedelta(0)
    assert calendar.between(ny(2026, 3, 2, 10), ny(2026, 3, 2, 9)) == timedelta(0)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, naive: c.is_open(naive),
        lambda c, naive: c.next_open(naive),
        lambda c, naive: c.add(naive, timedelta(hours=1)),
        lambda c, naive: c.between(naive, ny(2026, 3, 3)),
        lambda c, naive: c.between(ny(2026, 3, 1), naive),
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(office(), datetime(2026, 3, 2, 9))


def test_always_open_is_plain_elapsed_time():
    start = ny(2026, 3, 7, 12)
    end = ny(2026, 3, 9, 12)
    utc_start = start.astimezone(UTC)
    assert ALWAYS_OPEN.add(utc_start, timedelta(days=3)) == utc_start + timedelta(days=3)
    # Real elapsed time, where Python's own arithmetic on New York datetimes is wall-clock.
    assert ALWAYS_OPEN.add(start, timedelta(days=3)) == ny(2026, 3, 10, 13)
    assert ALWAYS_OPEN.between(start, end) == end.astimezone(UTC) - utc_start
    assert ALWAYS_OPEN.between(start, end) == timedelta(hours=47)  # across spring forward
    assert ALWAYS_OPEN.is_open(start) and ALWAYS_OPEN.next_open(start) == start
    assert ALWAYS_OPEN.timezone == "UTC" and not ALWAYS_OPEN.holidays


def test_calendar_closed_for_longer_than_the_search_limit_raises():
    only_mondays = BusinessCalendar(
        "UTC",
        {0: ((time(9), time(17)),)},
        holidays=frozenset(date(2026, 3, 2) + timedelta(weeks=n) for n in range(600)),
    )
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(CalendarError, match=f"hours: never open in the {MAX_CLOSED_DAYS} days"):
        only_mondays.add(start, timedelta(hours=1))
    with pytest.raises(CalendarError, match="hours: never open"):
        only_mondays.next_open(start)
    assert only_mondays.between(start, start + timedelta(days=4000)) == timedelta(0)


# Validation


def _config(**fields: Any) -> dict[str, Any]:
    return {**OFFICE_CONFIG, **fields}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("mon 8-5", "calendar: expected an object"),
        (_config(hour={}), "hour: unknown field"),
        (_config(hours={"mon": LUNCH_BREAK, "funday": []}), 'hours: unknown day "funday"'),
        (_config(hours={"Mon": LUNCH_BREAK}), 'hours: unknown day "Mon"'),
        (_config(hours=[["08:00", "17:00"]]), "hours: expected an object"),
        (_config(hours={"mon": "08:00-17:00"}), "hours.mon: expected a list"),
        (_config(hours={"mon": [["08:00"]]}), "hours.mon[0]: expected a"),
        (_config(hours={"mon": [["8:00", "17:00"]]}), "hours.mon[0]: start '8:00' is not"),
        (_config(hours={"mon": [["08:00", "25:00"]]}), 'hours.mon[0]: end "25:00" is not'),
        (_config(hours={"mon": [["08:00", "12:60"]]}), 'hours.mon[0]: end "12:60" is not'),
        (_config(hours={"mon": [["08:00", 17]]}), "hours.mon[0]: end 17 is not"),
        (
            _config(hours={"mon": [["08:00", "12:00"], ["17:00", "13:00"]]}),
            "hours.mon[1]: ends before it starts (17:00-13:00)",
        ),
        (_config(hours={"tue": [["08:00", "08:00"]]}), "hours.tue[0]: is empty"),
        (
            _config(hours={"sat": [["22:00", "00:00"]]}),
            'hours.sat[0]: ends at 00:00; write "24:00"',
        ),
        (_config(hours={"sat": [["24:00", "24:00"]]}), "hours.sat[0]: starts at 24:00"),
        (
            _config(hours={"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}),
            "hours.mon: 08:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            _config(hours={"sat": [["23:00", "23:30"], ["22:00", "24:00"]]}),
            "hours.sat: 22:00-24:00 and 23:00-23:30 overlap",
        ),
        (_config(hours={}), "hours: the calendar is never open"),
        (_config(hours={"mon": [], "sun": []}), "hours: the calendar is never open"),
        ({"timezone": "UTC"}, "hours: the calendar is never open"),
        (_config(timezone="Mars/Olympus_Mons"), 'timezone: unknown time zone "Mars/Olympus_Mons"'),
        (_config(timezone="../etc/passwd"), "timezone: unknown time zone"),
        (_config(timezone=""), "timezone: expected an IANA time zone name"),
        (_config(timezone=-5), "timezone: expected an IANA time zone name"),
        (_config(holidays="2026-12-25"), "holidays: expected a list"),
        (_config(holidays=["2026-13-01"]), "holidays[0]: '2026-13-01' is not a date"),
        (_config(holidays=["2026-12-25", "12/25/2026"]), "holidays[1]: '12/25/2026' is not a"),
        (_config(holidays=[20261225]), "holidays[0]: 20261225 is not a date"),
        (_config(holiday_country="XX"), 'holiday_country: no public holidays known for "XX"'),
        (_config(holiday_country=1), "holiday_country: expected a non-empty text code"),
        (
            _config(holiday_country="US", holiday_subdivision="ZZ"),
            'holiday_subdivision: "ZZ" is not a part of US',
        ),
        (_config(holiday_subdivision="NY"), "holiday_subdivision: needs holiday_country"),
    ],
)
def test_invalid_config_is_refused_naming_the_field(config, message):
    with pytest.raises(CalendarError) as raised:
        BusinessCalendar.from_config(config)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("weekly", "message"),
    [
        ({0: ((time(9), time(8)),)}, "hours.mon[0]: ends before it starts (09:00-08:00)"),
        ({7: ((time(9), time(17)),)}, "hours: unknown weekday 7"),
        ({2: ((time(9), None), (time(10), time(11)))}, "hours.wed: 09:00-24:00 and 10:00-11:00"),
        ({0: [(time(9),)]}, "hours.mon[0]: expected a (start, end) pair"),
        ({0: ((time(9, tzinfo=UTC), None),)}, "hours.mon[0]: start must be a local time"),
        ({}, "hours: the calendar is never open"),
    ],
)
def test_direct_construction_is_checked_too(weekly, message):
    with pytest.raises(CalendarError) as raised:
        BusinessCalendar("UTC", weekly)
    assert str(raised.value).startswith(message)


# Properties and speed


def test_between_undoes_add_for_random_starts_and_durations():
    calendars = [
        office(holiday_country="US", holiday_subdivision="NY", holidays=["2026-06-01"]),
        BusinessCalendar.from_config(NIGHT_SHIFT_CONFIG),
        open_on(
            "Europe/Paris", {"mon": [["00:00", "02:30"], ["09:00", "18:00"]], "sun": LUNCH_BREAK}
        ),
        ALWAYS_OPEN,
    ]
    rng = random.Random(20260308)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(400):
        calendar = rng.choice(calendars)
        start = first + timedelta(microseconds=rng.randrange(2 * 366 * 86_400 * 10**6))
        duration = timedelta(microseconds=rng.randrange(3 * 7 * 86_400 * 10**6))
        due = calendar.add(start, duration)
        assert due >= start
        assert calendar.between(start, due) == duration, (calendar.timezone, start, duration)
        if duration:
            assert calendar.is_open(due - timedelta(microseconds=1))


def test_between_never_exceeds_elapsed_time_and_adds_up_over_splits():
    calendar = office(holiday_country="US")
    rng = random.Random(311)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(200):
        a, b, c = sorted(first + timedelta(seconds=rng.randrange(400 * 86_400)) for _ in range(3))
        assert calendar.between(a, c) == calendar.between(a, b) + calendar.between(b, c)
        assert calendar.between(a, c) <= c - a


def test_ten_thousand_three_day_targets_take_well_under_a_second_or_two():
    calendar = office(holiday_country="US", holiday_subdivision="NY")
    rng = random.Random(7)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [first + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(10_000)]
    three_business_days = timedelta(hours=3 * 8)
    began = clock.perf_counter()
    for start in starts:
        calendar.add(start, three_business_days)
    assert clock.perf_counter() - began < 1.5


def test_targets_weeks_away_are_computed_quickly():
    calendar = office(holiday_country="US")
    began = clock.perf_counter()
    due = calendar.add(ny(2026, 1, 5, 8), timedelta(hours=8 * 250))
    assert calendar.between(ny(2026, 1, 5, 8), due) == timedelta(hours=8 * 250)
    assert clock.perf_counter() - began < 0.5
    assert due.year == 2027


def _dates_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
