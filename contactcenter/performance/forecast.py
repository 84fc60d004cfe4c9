"""The contacts to expect, per 30-minute interval of local time, from the weeks before.

The method is the contact centre's usual one, kept simple enough to explain on the page:

1. **Profile.** For each half-hour of the week (Monday 09:00, Monday 09:30, ...) the mean (or
   the median) of that half-hour over the last ``history_weeks`` weeks. The days before the
   first contact in the history are unknown, not zeros: a city that started last month has no
   empty weeks pulling its profile down.
2. **Trend.** A straight line fitted by least squares (numpy's ``polyfit``) to the totals of
   the whole weeks (a new service's half-empty first week would read as a steep rise), read at
   each forecast interval's point in time and divided by the mean weekly total: the profile
   describes the middle of the history, the line says how far the level has moved since. A
   falling trend stops at zero; nothing forecast is negative. Without two whole weeks there is
   no trend.
3. **Actual.** Intervals that have ended carry what happened, for forecast against actual.

Why no statistics library beyond numpy (statsmodels' Holt-Winters or ARIMA, Prophet): with
eight weekly seasons of half-hours those models have far more parameters than the data can
pin down, need fitting per channel on every page view, and their forecasts cannot be checked
by a supervisor with a calculator; a profile with a linear trend is the standard workforce-
management baseline and is what this data supports. numpy is already installed (via shapely).

Intervals are local wall-clock half-hours built from the rollup's 15-minute UTC slots (every
time zone's offset is a multiple of 15 minutes): on the day clocks go forward the half-hours
that do not exist are not there; on the day they go back the repeated ones appear twice, each
with its own actual. History read per half-hour of the week takes the mean of a repeated one,
so the profile is the same for both.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.models import ContactInterval
from contactcenter.performance.rollup import zone_of

Measure = Literal["offered", "inbound"]
Profile = Literal["mean", "median"]
MEASURES: tuple[str, ...] = ("offered", "inbound")
PROFILES: tuple[str, ...] = ("mean", "median")
SLOT_SECONDS = 900
WEEK = dt.timedelta(days=7)
MAX_WEEKS = 12
MAX_HISTORY_WEEKS = 26
FIRST_DAY = dt.date(1971, 1, 1)
LAST_DAY = dt.date(9000, 12, 31)

DEFINITIONS: dict[str, str] = {
    "forecast": (
        "Contacts expected in the half-hour: the mean of the same half-hour of the week over "
        "the history weeks, scaled by the trend of the weekly totals (least squares)."
    ),
    "actual": "Contacts that arrived in the half-hour, once it has ended.",
    "offered": "Contacts offered to agents (work items of kind first response, call or chat).",
    "inbound": "Inbound interactions on the channel (messages, calls, chats, emails).",
    "trend_per_week": (
        "How much the weekly total grows (or falls) per week, as a share of the mean weekly "
        "total of the history."
    ),
}


@dataclass(frozen=True)
class ForecastPoint:
    """One local half-hour: when it starts (aware, in the jurisdiction's time), the contacts
    forecast and, once it has ended, the contacts that arrived."""

    start: dt.datetime
    forecast: float
    actual: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "forecast": self.forecast, "actual": self.actual}


@dataclass
class Forecast:
    """The forecast of ``measure`` on ``channel`` (None: every channel) for ``weeks`` weeks from
    ``start``, and what it was made from."""

    points: list[ForecastPoint]
    channel: str | None = None
    queue_id: int | None = None
    """The queue forecast (None: every queue)."""
    measure: str = "offered"
    profile: str = "mean"
    start: dt.date | None = None
    end: dt.date | None = None
    """The first local day after the forecast."""
    history_start: dt.date | None = None
    """The first day of the history used (after dropping leading empty weeks)."""
    history_end: dt.date | None = None
    """The first local day not in the history."""
    weekly_totals: list[int] = field(default_factory=list)
    trend_per_week: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "queue_id": self.queue_id,
            "measure": self.measure,
            "profile": self.profile,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "history_start": _iso(self.history_start),
            "history_end": _iso(self.history_end),
            "weekly_totals": self.weekly_totals,
            "trend_per_week": self.trend_per_week,
            "points": [p.as_dict() for p in self.points],
            "definitions": DEFINITIONS,
        }


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass(frozen=True)
class _Interval:
    """A local half-hour: its start, the slots it covers, its key in the week's profile."""

    start: dt.datetime
    slots: tuple[int, ...]

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.start.weekday(), self.start.hour, self.start.minute)

    @property
    def end_slot(self) -> int:
        return self.slots[-1] + 1


def _first_slot(zone: dt.tzinfo, day: dt.date) -> int:
    """The slot in which local ``day`` begins (its midnight, or the first instant after a gap
    at midnight: zoneinfo reads a missing time with the offset before the change)."""
    begins = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return int(begins.timestamp()) // SLOT_SECONDS


def local_intervals(zone: dt.tzinfo, first: dt.date, end: dt.date) -> list[_Interval]:
    """Every local half-hour from ``first`` up to (not including) ``end``: a new one starts at
    each slot whose local time is on the hour or the half-hour."""
    intervals: list[_Interval] = []
    current: list[int] = []
    started: dt.datetime | None = None
    for slot in range(_first_slot(zone, first), _first_slot(zone, end)):
        local = dt.datetime.fromtimestamp(slot * SLOT_SECONDS, dt.UTC).astimezone(zone)
        if local.minute % 30 == 0 or started is None:
            if started is not None:
                intervals.append(_Interval(started, tuple(current)))
            started, current = local, []
        current.append(slot)
    if started is not None:
        intervals.append(_Interval(started, tuple(current)))
    return intervals


def _check(
    channel: str | None,
    queue_id: int | None,
    start: dt.date,
    weeks: int,
    history_weeks: int,
    measure: str,
    profile: str,
) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of: {', '.join(MEASURES)}.")
    if queue_id is not None and measure == "inbound":
        raise ValueError("queue: inbound interactions have no queue; forecast offered contacts.")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of: {', '.join(PROFILES)}.")
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be a whole number from 1 to {MAX_WEEKS}.")
    if (
        isinstance(history_weeks, bool)
        or not isinstance(history_weeks, int)
        or not 1 <= history_weeks <= MAX_HISTORY_WEEKS
    ):
        raise ValueError(f"history_weeks must be a whole number from 1 to {MAX_HISTORY_WEEKS}.")
    if not FIRST_DAY <= start <= LAST_DAY:
        raise ValueError(f"start must be between {FIRST_DAY} and {LAST_DAY}.")
    if channel is not None and not (1 <= len(channel) <= 16):
        raise ValueError("channel must be 1 to 16 characters.")


def _slot_counts(
    session: Session,
    jurisdiction: Jurisdiction,
    channel: str | None,
    queue_id: int | None,
    measure: str,
    first_slot: int,
    end_slot: int,
) -> dict[int, int]:
    """The measure per slot over the range, every queue summed: one query, at most a few
    thousand rows (the range is bounded by MAX_WEEKS and MAX_HISTORY_WEEKS)."""
    column = getattr(ContactInterval, measure)
    query = (
        sa.select(ContactInterval.slot, sa.func.sum(column))
        .where(
            ContactInterval.jurisdiction_id == jurisdiction.id,
            ContactInterval.slot >= first_slot,
            ContactInterval.slot < end_slot,
        )
        .group_by(ContactInterval.slot)
    )
    if channel is not None:
        query = query.where(ContactInterval.channel == channel)
    if queue_id is not None:
        query = query.where(ContactInterval.queue_id == queue_id)
    return {int(slot): int(total or 0) for slot, total in session.execute(query)}


def _day_of(zone: dt.tzinfo, slot: int) -> dt.date:
    return dt.datetime.fromtimestamp(slot * SLOT_SECONDS, dt.UTC).astimezone(zone).date()


def _first_contact_day(zone: dt.tzinfo, counts: dict[int, int], before: int) -> int | None:
    """The slot in which the local day of the history's first contact begins (None: none)."""
    seen = [slot for slot, count in counts.items() if count and slot < before]
    return None if not seen else _first_slot(zone, _day_of(zone, min(seen)))


def _summary(values: list[float], profile: str) -> float:
    return float(statistics.median(values)) if profile == "median" else statistics.fmean(values)


def forecast(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    channel: str | None,
    start: dt.date,
    weeks: int = 2,
    history_weeks: int = 8,
    measure: str = "offered",
    profile: str = "mean",
    queue_id: int | None = None,
    now: dt.datetime | None = None,
) -> Forecast:
    """The forecast per local half-hour for ``weeks`` weeks from local day ``start``, of one
    channel (None: all) and one queue (None: all; the caller checks it is the jurisdiction's).

    The history is the ``history_weeks`` whole weeks before ``start``, or before today when
    ``start`` is later (nothing is known of the days in between). ``profile`` "mean" keeps the
    weekly total (sparse half-hours of a small city average 0.4, where the median says 0);
    "median" ignores a holiday or an outage in the history.

    :raises ValueError: an unknown measure or profile, weeks or history out of range.
    """
    _check(channel, queue_id, start, weeks, history_weeks, measure, profile)
    now = now or utcnow()
    zone = zone_of(jurisdiction.timezone)
    today = now.astimezone(zone).date()
    end = start + weeks * WEEK
    history_end = min(start, today)
    history_start = history_end - history_weeks * WEEK

    ahead = local_intervals(zone, start, end)
    behind = local_intervals(zone, history_start, history_end)
    first_slot = min(_first_slot(zone, history_start), _first_slot(zone, start))
    counts = _slot_counts(
        session, jurisdiction, channel, queue_id, measure, first_slot, _first_slot(zone, end)
    )

    # The history week by week, from the local day of its first contact on (the days before
    # are unknown, not zero): each half-hour's count (the mean of a repeated one), the total.
    week_starts = [_first_slot(zone, history_start + i * WEEK) for i in range(history_weeks + 1)]
    begins = _first_contact_day(zone, counts, week_starts[-1])
    per_week: list[dict[tuple[int, int, int], list[int]]] = [
        defaultdict(list) for _ in range(history_weeks)
    ]
    totals = [0] * history_weeks
    for interval in behind:
        if begins is None or interval.slots[0] < begins:
            continue
        week = bisect.bisect_right(week_starts, interval.slots[0]) - 1
        value = sum(counts.get(slot, 0) for slot in interval.slots)
        per_week[week][interval.key].append(value)
        totals[week] += value

    profile_of: dict[tuple[int, int, int], float] = {}
    samples: dict[tuple[int, int, int], list[float]] = defaultdict(list)
    for week_values in per_week:
        for key, counted in week_values.items():
            samples[key].append(statistics.fmean(counted))
    for key, values in samples.items():
        profile_of[key] = _summary(values, profile)

    # The trend, from the whole weeks alone: level(x) / mean level, x in weeks since the first
    # whole week. Without two whole weeks there is none; without one, the profile stands alone.
    used = history_weeks if begins is None else bisect.bisect_left(week_starts, begins)
    used = min(used, history_weeks)
    whole = totals[used:]
    slope, intercept, mean_total = 0.0, 0.0, 0.0
    if whole:
        mean_total = statistics.fmean(whole)
        intercept = mean_total
        if len(whole) >= 2:
            weeks_x = np.arange(len(whole), dtype=float) + 0.5
            fitted = np.polyfit(weeks_x, np.asarray(whole, dtype=float), 1)
            slope, intercept = float(fitted[0]), float(fitted[1])
    origin = week_starts[used]
    now_slot = int(now.timestamp()) // SLOT_SECONDS

    points: list[ForecastPoint] = []
    for interval in ahead:
        expected = 0.0
        base = profile_of.get(interval.key, 0.0)
        if base > 0.0:
            factor = 1.0
            if mean_total > 0.0:
                middle = (interval.slots[0] + len(interval.slots) / 2 - origin) * SLOT_SECONDS
                x = middle / WEEK.total_seconds()
                factor = max(0.0, (intercept + slope * x) / mean_total)
            expected = round(base * factor, 3)
        actual = None
        if interval.end_slot <= now_slot:
            actual = sum(counts.get(slot, 0) for slot in interval.slots)
        points.append(ForecastPoint(interval.start, expected, actual))

    return Forecast(
        points=points,
        channel=channel,
        queue_id=queue_id,
        measure=measure,
        profile=profile,
        start=start,
        end=end,
        history_start=history_end if begins is None else max(history_start, _day_of(zone, begins)),
        history_end=history_end,
        weekly_totals=whole,
        trend_per_week=round(slope / mean_total, 4) if mean_total > 0 else 0.0,
    )
