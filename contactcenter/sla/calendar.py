"""Business-hours calendars: when the city counts SLA time, and how much of it has passed.

An SLA target such as "first response within 4 business hours" only means something against
the hours the city is actually open. A calendar is a weekly pattern of opening periods in the
city's local wall-clock time, minus holidays (explicit dates, plus a country's public holidays
from the ``holidays`` library), and it answers four questions: is it open at an instant, when
does it next open, at what instant has a given amount of business time elapsed (``add``), and
how much business time lies between two instants (``between``).

Why this is careful about time:

- Periods are wall-clock times, turned into real instants per local date with ``zoneinfo``, so a
  DST change is counted as it happens: a 00:00-24:00 day lasts 23 real hours on spring-forward
  day and 25 on fall-back day; a period that does not contain the change keeps its length.
- Wall times that do not exist (02:30 on spring-forward day in America/New_York) and wall times
  that exist twice (01:30 on fall-back day) are resolved the way ``zoneinfo`` does for
  ``fold=0``: an ambiguous time is its first occurrence (still daylight time), and a missing
  time is read with the offset from before the change, so it lands as far after the gap as it
  was into it (02:30 EST is 03:30 EDT). A period that ends inside the gap therefore ends late,
  and one that starts and ends inside it is pushed past the gap too; a period whose real start
  is not before its real end that day is empty, and periods that overlap once placed in real
  time are merged, so no instant is ever counted twice.
- Intervals are half-open, ``[start, end)``: open exactly at a period's start, closed exactly at
  its end. A period ending at 24:00 and one starting at 00:00 the next day join without a gap.
- Every instant in and out is an aware datetime; results are in UTC. Naive datetimes are
  rejected rather than guessed at.

``add(start, 0)`` is ``start`` itself (in UTC) even when closed: no business time is needed, so
nothing has to wait for the next opening. Any positive amount counts from the next opening,
and ``between(s, add(s, d)) == d`` for every start ``s`` and non-negative ``d``.

The calendar walks local days, not minutes, and caches each day's real-time spans, so ``add``
and ``between`` over weeks cost a few dozen dictionary lookups. It is a pure module: no web
framework, database or queue, so the routing rules and the SLA clocks can both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_library

Period = tuple[time, time | None]
"""An opening period in local wall-clock time; an end of None means midnight (24:00)."""
Span = tuple[datetime, datetime]
"""A half-open open interval ``[start, end)`` in UTC."""

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CONFIG_FIELDS = ("timezone", "hours", "holidays", "holiday_country", "holiday_subdivision")
MAX_CLOSED_DAYS = 3653
"""How many consecutive closed days ``add`` and ``next_open`` search before giving up."""

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_MIDNIGHT = time(0)
_HHMM = re.compile(r"(\d\d):(\d\d)")
_ISO_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_DAY_CACHE_SIZE = 4096


class CalendarError(ValueError):
    """A calendar definition that cannot be used; the message names the field (e.g.
    "hours.mon[1]: ends before it starts")."""


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening periods per weekday in ``timezone``, closed on holidays.

    ``weekly`` maps weekday (0=Mon..6=Sun) to sorted, non-overlapping periods; it is checked,
    sorted and completed with the closed days on construction. ``holidays`` are local dates
    closed all day; ``holiday_country`` (ISO code) and ``holiday_subdivision`` add that
    country's public holidays, observed days included, looked up a year at a time as needed.
    """

    timezone: str
    weekly: Mapping[int, tuple[Period, ...]]
    holidays: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)
    _country_years: dict[int, frozenset[date]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _days: dict[date, tuple[Span, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "_zone", _zone(self.timezone))
        set_field(self, "weekly", _checked_weekly(self.weekly))
        set_field(self, "holidays", _checked_holidays(self.holidays))
        country, subdivision = _checked_country(self.holiday_country, self.holiday_subdivision)
        set_field(self, "holiday_country", country)
        set_field(self, "holiday_subdivision", subdivision)
        always = all(p == ((_MIDNIGHT, None),) for p in self.weekly.values())
        set_field(self, "_always_open", always and not self.holidays and country is None)

    def __hash__(self) -> int:
        weekly = tuple(sorted(self.weekly.items()))
        return hash(
            (self.timezone, weekly, self.holidays, self.holiday_country, self.holiday_subdivision)
        )

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, default_timezone: str = "UTC"
    ) -> BusinessCalendar:
        """The calendar city IT stored as JSON; raises CalendarError naming the bad field."""
        if not isinstance(config, Mapping):
            raise CalendarError("calendar: expected an object")
        for key in config:
            if key not in CONFIG_FIELDS:
                raise CalendarError(f"{key}: unknown field (known: {', '.join(CONFIG_FIELDS)})")
        timezone = config.get("timezone")
        if timezone is None:
            timezone = default_timezone
        return cls(
            timezone=timezone,
            weekly=_parse_hours(config.get("hours")),
            holidays=_parse_holidays(config.get("holidays")),
            holiday_country=_optional_text(config, "holiday_country"),
            holiday_subdivision=_optional_text(config, "holiday_subdivision"),
        )

    def is_holiday(self, day: date) -> bool:
        """Whether the local date ``day`` is closed all day as a holiday."""
        return day in self.holidays or day in self._country_holidays(day.year)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (aware, any zone) falls inside an opening period."""
        instant = _utc(at, "at")
        today = instant.astimezone(self._zone).date()
        for day in (today - _ONE_DAY, today):
            if any(start <= instant < end for start, end in self._day_spans(day)):
                return True
        return False

    def next_open(self, at: datetime) -> datetime:
        """``at`` in UTC if open then, else the start of the next opening period (UTC)."""
        start, _end = next(self._spans(_utc(at, "at")))
        return start

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The UTC instant at which ``duration`` of business time has elapsed after ``start``.

        Counting begins at ``start`` if open, else at the next opening. A zero duration gives
        ``start`` itself; a negative one raises ValueError.
        """
        instant = _utc(start, "start")
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative (got {duration})")
        if duration == _ZERO:
            return instant
        if self._always_open:
            return instant + duration
        remaining = duration
        spans = self._spans(instant)
        while True:
            span_start, span_end = next(spans)
            if remaining <= span_end - span_start:
                return span_start + remaining
            remaining -= span_end - span_start

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed in ``[start, end)``; zero if ``end`` is not after ``start``."""
        first, last = _utc(start, "start"), _utc(end, "end")
        if last <= first:
            return _ZERO
        if self._always_open:
            return last - first
        total = _ZERO
        for span_start, span_end in self._spans(first, until=last):
            if span_start >= last:
                break
            total += min(span_end, last) - span_start
        return total

    def _spans(self, start: datetime, *, until: datetime | None = None) -> Iterator[Span]:
        """Open spans in time order from ``start`` (UTC), the first clipped to begin there.

        With ``until`` the walk ends after that instant's local date (spans of later days all
        start after it); without, it is endless unless the calendar stays closed for
        MAX_CLOSED_DAYS in a row, which raises CalendarError.
        """
        day = start.astimezone(self._zone).date() - _ONE_DAY
        stop = until.astimezone(self._zone).date() if until is not None else None
        floor = start
        closed_days = 0
        while stop is None or day <= stop:
            spans = self._day_spans(day)
            for span_start, span_end in spans:
                begin = max(span_start, floor)
                if begin < span_end:
                    yield begin, span_end
                    floor = span_end
            closed_days = 0 if spans else closed_days + 1
            if stop is None and closed_days > MAX_CLOSED_DAYS:
                raise CalendarError(
                    f"hours: never open in the {MAX_CLOSED_DAYS} days after {start.isoformat()}"
                )
            day += _ONE_DAY

    def _day_spans(self, day: date) -> tuple[Span, ...]:
        spans = self._days.get(day)
        if spans is None:
            spans = self._compute_day_spans(day)
            if len(self._days) >= _DAY_CACHE_SIZE:
                self._days.clear()
            self._days[day] = spans
        return spans

    def _compute_day_spans(self, day: date) -> tuple[Span, ...]:
        if self.is_holiday(day):
            return ()
        spans = []
        for start, end in self.weekly[day.weekday()]:
            real_start = _instant(day, start, self._zone)
            if end is None:
                real_end = _instant(day + _ONE_DAY, _MIDNIGHT, self._zone)
            else:
                real_end = _instant(day, end, self._zone)
            if real_start < real_end:
                spans.append((real_start, real_end))
        return _merged(spans)

    def _country_holidays(self, year: int) -> frozenset[date]:
        if self.holiday_country is None:
            return frozenset()
        dates = self._country_years.get(year)
        if dates is None:
            found = holiday_library.country_holidays(
                self.holiday_country,
                subdiv=self.holiday_subdivision,
                years=range(year - 1, year + 2),
            )
            dates = frozenset(day for day in found if day.year == year)
            self._country_years[year] = dates
        return dates


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time; zoneinfo's fold=0 rules settle gaps and repeats."""
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def _merged(spans: list[Span]) -> tuple[Span, ...]:
    """Spans sorted, with overlapping or touching ones joined."""
    result: list[Span] = []
    for start, end in sorted(spans):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(end, result[-1][1]))
        else:
            result.append((start, end))
    return tuple(result)


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware; got the naive datetime {value}")
    return value.astimezone(UTC)


def _zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CalendarError("timezone: expected an IANA time zone name such as America/New_York")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f'timezone: unknown time zone "{name}"') from None


def _checked_weekly(weekly: object) -> Mapping[int, tuple[Period, ...]]:
    """Every weekday present, each day's periods valid, sorted and apart; some day open."""
    if not isinstance(weekly, Mapping):
        raise CalendarError("hours: expected a mapping of weekday to periods")
    for weekday in weekly:
        if weekday not in range(7):
            raise CalendarError(f"hours: unknown weekday {weekday!r} (0=Mon..6=Sun)")
    checked = {day: _checked_day(DAY_NAMES[day], weekly.get(day, ())) for day in range(7)}
    if not any(checked.values()):
        raise CalendarError("hours: the calendar is never open (no period on any day)")
    return MappingProxyType(checked)


def _checked_day(name: str, periods: object) -> tuple[Period, ...]:
    if not isinstance(periods, Sequence):
        raise CalendarError(f"hours.{name}: expected a list of periods")
    for index, period in enumerate(periods):
        _check_period(f"hours.{name}[{index}]", period)
    ordered: list[Period] = sorted(periods, key=lambda period: period[0])
    for earlier, later in pairwise(ordered):
        if earlier[1] is None or later[0] < earlier[1]:
            raise CalendarError(
                f"hours.{name}: {_show(earlier)} and {_show(later)} overlap",
            )
    return tuple(ordered)


def _check_period(where: str, period: object) -> None:
    if not (isinstance(period, tuple) and len(period) == 2):
        raise CalendarError(f"{where}: expected a (start, end) pair")
    start, end = period
    if not isinstance(start, time) or start.tzinfo is not None:
        raise CalendarError(f"{where}: start must be a local time of day")
    if end is None:
        return
    if not isinstance(end, time) or end.tzinfo is not None:
        raise CalendarError(f"{where}: end must be a local time of day, or None for midnight")
    if end == _MIDNIGHT:
        raise CalendarError(f'{where}: ends at 00:00; write "24:00" for midnight')
    if end == start:
        raise CalendarError(f"{where}: is empty ({_show(period)})")
    if end < start:
        raise CalendarError(f"{where}: ends before it starts ({_show(period)})")


def _show(period: Period) -> str:
    start, end = period
    return f"{start:%H:%M}-{'24:00' if end is None else format(end, '%H:%M')}"


def _checked_holidays(days: object) -> frozenset[date]:
    if not isinstance(days, frozenset | set):
        raise CalendarError("holidays: expected a set of dates")
    for day in days:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise CalendarError(f"holidays: {day!r} is not a date")
    return frozenset(days)


def _checked_country(country: object, subdivision: object) -> tuple[str | None, str | None]:
    """The country and subdivision as the holidays library spells them; both optional."""
    if country is None:
        if subdivision is not None:
            raise CalendarError("holiday_subdivision: needs holiday_country")
        return None, None
    supported = holiday_library.list_supported_countries()
    if not isinstance(country, str) or country.upper() not in supported:
        raise CalendarError(f'holiday_country: no public holidays known for "{country}"')
    code = country.upper()
    if subdivision is None:
        return code, None
    if not isinstance(subdivision, str):
        raise CalendarError("holiday_subdivision: expected a text code such as NY")
    spelled = {known.upper(): known for known in supported[code]}
    canonical = spelled.get(subdivision.upper(), subdivision)
    try:
        holiday_library.country_holidays(code, subdiv=canonical)
    except NotImplementedError:
        raise CalendarError(
            f'holiday_subdivision: "{subdivision}" is not a part of {code}'
        ) from None
    return code, canonical


def _optional_text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise CalendarError(f"{key}: expected a non-empty text code")
    return value


def _parse_hours(hours: object) -> dict[int, tuple[Period, ...]]:
    if hours is None:
        hours = {}
    if not isinstance(hours, Mapping):
        raise CalendarError('hours: expected an object such as {"mon": [["08:00", "17:00"]]}')
    weekly: dict[int, tuple[Period, ...]] = {}
    for name, periods in hours.items():
        if name not in DAY_NAMES:
            raise CalendarError(f'hours: unknown day "{name}" (use {", ".join(DAY_NAMES)})')
        where = f"hours.{name}"
        if not isinstance(periods, list):
            raise CalendarError(f'{where}: expected a list of ["HH:MM", "HH:MM"] periods')
        weekly[DAY_NAMES.index(name)] = tuple(
            _parse_period(f"{where}[{index}]", period) for index, period in enumerate(periods)
        )
    return weekly


def _parse_period(where: str, period: object) -> Period:
    if not (isinstance(period, list) and len(period) == 2):
        raise CalendarError(f'{where}: expected a ["HH:MM", "HH:MM"] pair')
    start = _parse_time(where, "start", period[0])
    if start is None:
        raise CalendarError(f"{where}: starts at 24:00, which can only end a period")
    return start, _parse_time(where, "end", period[1])


def _parse_time(where: str, which: str, text: object) -> time | None:
    """A time of day from "HH:MM"; "24:00" is None (midnight at the end of the day)."""
    match = _HHMM.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise CalendarError(f'{where}: {which} {text!r} is not a time "HH:MM"')
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) == (24, 0):
        return None
    if hour > 23 or minute > 59:
        raise CalendarError(f'{where}: {which} "{text}" is not a time of day')
    return time(hour, minute)


def _parse_holidays(days: object) -> frozenset[date]:
    if days is None:
        return frozenset()
    if not isinstance(days, list):
        raise CalendarError('holidays: expected a list of "YYYY-MM-DD" dates')
    return frozenset(_parse_date(f"holidays[{index}]", text) for index, text in enumerate(days))


def _parse_date(where: str, text: object) -> date:
    if isinstance(text, str) and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise CalendarError(f'{where}: {text!r} is not a date "YYYY-MM-DD"')


ALWAYS_OPEN = BusinessCalendar("UTC", {day: ((_MIDNIGHT, None),) for day in range(7)})
"""Around the clock, every day: business time is plain elapsed time."""
