"""A reporting period: whole local days of one jurisdiction, both ends included.

Staff reports (the dashboard, the scorecard, the drill-down lists, the exports, the weekly
summary) all speak of days as the jurisdiction's people do, so a period is two local dates;
the instants it covers run from the first day's local midnight to the midnight after the
last, which is what makes a day 23 or 25 hours long across a DST change. The comparison
period is the one of the same length just before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.rollup import zone_of

MAX_DAYS = 400
"""The longest period a staff report covers: a year and a bit, so a year compares with the last
one through two requests, while no request can ask for every row since the founding."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after its first day")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        length = dt.timedelta(days=self.days)
        return Period(self.start - length, self.end - length)

    def bounds(self, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
        """``[first local midnight, the midnight after the last day)`` in UTC."""
        first = dt.datetime.combine(self.start, dt.time(), zone)
        after = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), zone)
        return first.astimezone(dt.UTC), after.astimezone(dt.UTC)

    def as_dict(self) -> dict[str, str | int]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}


def local_bounds(
    jurisdiction: Jurisdiction, start: dt.date, end: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants ``[start's midnight, the midnight after end)`` in the jurisdiction."""
    return Period(start, end).bounds(zone_of(jurisdiction.timezone))


def local_today(jurisdiction: Jurisdiction, now: dt.datetime) -> dt.date:
    return now.astimezone(zone_of(jurisdiction.timezone)).date()


def histogram_months(period: Period) -> tuple[dt.date, dt.date]:
    """The first and last month (as their first days) whose time-to-close histograms give the
    period's median and 90th percentile: every month the period touches, whole."""
    return period.start.replace(day=1), period.end.replace(day=1)


def whole_months(period: Period) -> bool:
    """Whether the period is whole calendar months (its median and 90th percentile are then
    exactly its own)."""
    return period.start.day == 1 and (period.end + dt.timedelta(days=1)).day == 1


def months_label(period: Period) -> str:
    """The months of :func:`histogram_months` in words: "March 2026", "February to March
    2026", "December 2025 to January 2026"."""
    first, last = histogram_months(period)
    if first == last:
        return f"{first:%B %Y}"
    if first.year == last.year:
        return f"{first:%B} to {last:%B %Y}"
    return f"{first:%B %Y} to {last:%B %Y}"


def close_time_caveats(period: Period, previous: Period) -> tuple[str, bool]:
    """How to present the medians and 90th percentiles of ``period`` beside ``previous``'s.

    Returns the note to write under them (``"over <months>"``, or "" when the period is whole
    months) and whether the previous period's may be shown: not when both come from the same
    months' histograms, so they are the same numbers and the comparison says nothing.
    """
    note = "" if whole_months(period) else f"over {months_label(period)}"
    return note, histogram_months(period) != histogram_months(previous)
