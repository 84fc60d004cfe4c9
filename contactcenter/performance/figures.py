"""The public performance figures of one jurisdiction for a period, read from the rollups.

Five queries whatever the number of cases or the length of the period (service types, counts
by dimension, the daily totals for the trends, the close-time percentiles, the backlog); none
reads the cases table. How each figure is computed is stated in :data:`DEFINITIONS`, which the
page publishes word for word.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.models import CloseTimeCount, DailyCount
from contactcenter.performance.rollup import PUBLIC_DIMENSIONS, bucket_upper_days, zone_of

SUPPRESS_BELOW = 5
"""Counts from 1 to 4 in the tables by service type and by district are not published."""
SUPPRESSED_COUNTS = ("opened", "closed", "closed_with_target", "closed_on_time")

DEFAULT_MONTHS = 12
MAX_MONTHS = 36
EARLIEST_YEAR = 1970
LATEST_YEAR = 2100

CHANNEL_LABELS = {
    Channel.VOICE: "Phone",
    Channel.SMS: "Text message",
    Channel.WEBCHAT: "Web chat",
    Channel.EMAIL: "Email",
    Channel.WALK_IN: "In person",
    Channel.OPEN311: "Apps (Open311)",
    Channel.OTHER: "Other",
}
UNKNOWN_DISTRICT = "Unknown"
NO_SERVICE_TYPE = "Not classified"

BACKLOG_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-2 days", 0, 2),
    ("3-7 days", 3, 7),
    ("8-30 days", 8, 30),
    ("31-90 days", 31, 90),
    ("over 90 days", 91, None),
)

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Period and dates",
        "Every date is the local date in the jurisdiction's time zone ({timezone}). The period "
        "runs from the first day of its first month to the last day of its last month; the "
        "current month counts up to today.",
    ),
    (
        "Requests",
        "Service requests opened (created) in the period, whatever their channel or status, "
        "counted by service type, by the channel they came in on, and by district (the district "
        "the request's location fell in; 'Unknown' when it had no location or fell in none).",
    ),
    (
        "Closed",
        "A request is closed when its status is resolved or closed; it is counted on the date "
        "it was resolved (or, if it was closed without being resolved, the date it was closed). "
        "A request that is reopened is open again and no longer counts as closed.",
    ),
    (
        "Days to close",
        "Time to close is the time from when a request was opened to when it was resolved (or "
        "closed), for requests closed in the period. The median is the time within which half of "
        "them closed, the 90th percentile the time within which nine in ten closed (nearest "
        "rank). They are read from counts of requests by time to close in one-hour steps for "
        "the first two days, one-day steps up to a year, and one step beyond: each is shown as "
        "the upper end of its step, so it is exact to within one hour under two days and to "
        "within one day after that, and never understated. Beyond a year it is shown as "
        "'over 365 days'.",
    ),
    (
        "Target",
        "The number of days the city aims to close a request of that service type in. A request "
        "gets its due date when it is opened, from its service type's target at that time "
        "(adjusted while the city waits for the resident's answer).",
    ),
    (
        "Closed on time",
        "Of the requests closed in the period that had a due date, the percentage closed no "
        "later than their due date. Requests without a due date (service types without a target) "
        "are left out of this percentage; their number is shown next to it.",
    ),
    (
        "Backlog by age",
        "Requests open today (status new, open or in progress), by how many days ago they were "
        "opened, counted in local calendar days (0 = opened today). It does not depend on the "
        "period chosen.",
    ),
    (
        "Small numbers",
        "In the tables by service type and by district, a count from 1 to 4 is not published: "
        "the page shows 'fewer than 5', the JSON null (the row's 'suppressed' names the figures "
        "left out) and the CSV an empty value. The percentage closed on time is left out too "
        "when a count it is computed from is. Zero is published. The totals, the channels, the "
        "backlog and the trends are published in full.",
    ),
    (
        "Trends",
        "Requests opened and closed, and the percentage closed on time, per week (Monday to "
        "Sunday, labelled by its Monday; the first and last weeks may be cut by the period) and "
        "per month.",
    ),
)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    first_month: dt.date
    last_month: dt.date

    @property
    def start(self) -> dt.date:
        return self.first_month

    @property
    def end(self) -> dt.date:
        """The last day of the period."""
        return _add_months(self.last_month, 1) - dt.timedelta(days=1)

    @property
    def months(self) -> list[dt.date]:
        out, month = [], self.first_month
        while month <= self.last_month:
            out.append(month)
            month = _add_months(month, 1)
        return out

    def as_params(self) -> dict[str, str]:
        return {"from": self.first_month.strftime("%Y-%m"), "to": self.last_month.strftime("%Y-%m")}


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _parse_month(name: str, text: str) -> dt.date:
    match = _MONTH.match(text.strip())
    if not match:
        raise Invalid(f"'{name}' must be a month written YYYY-MM.", fields={name: "YYYY-MM"})
    year, month = int(match.group(1)), int(match.group(2))
    if not (EARLIEST_YEAR <= year <= LATEST_YEAR and 1 <= month <= 12):
        raise Invalid(
            f"'{name}' must be a month between {EARLIEST_YEAR}-01 and {LATEST_YEAR}-12.",
            fields={name: "YYYY-MM"},
        )
    return dt.date(year, month, 1)


def parse_period(first: str | None, last: str | None, today: dt.date) -> Period:
    """The period asked for (``from``/``to`` months, both optional): by default the last
    twelve months, this one included. At most :data:`MAX_MONTHS` months."""
    last_month = _parse_month("to", last) if last else today.replace(day=1)
    if first:
        first_month = _parse_month("from", first)
    else:
        first_month = _add_months(last_month, 1 - DEFAULT_MONTHS)
    if first_month > last_month:
        raise Invalid("'from' must not be after 'to'.", fields={"from": "after 'to'"})
    period = Period(first_month, last_month)
    if len(period.months) > MAX_MONTHS:
        raise Invalid(
            f"A period is at most {MAX_MONTHS} months long.", fields={"from": "too far back"}
        )
    return period


@dataclass(frozen=True)
class Counts:
    """One row of requests: opened and closed in the period, and the on-time share."""

    key: str
    label: str
    opened: int = 0
    closed: int = 0
    closed_with_target: int = 0
    closed_on_time: int = 0

    @property
    def closed_without_target(self) -> int:
        return self.closed - self.closed_with_target

    @property
    def on_time_percent(self) -> float | None:
        if not self.closed_with_target:
            return None
        return round(100 * self.closed_on_time / self.closed_with_target, 1)

    def suppressed(self) -> tuple[str, ...]:
        """The figures of this row not published in a small-cell table: counts from 1 to
        :data:`SUPPRESS_BELOW` - 1, and the on-time share when one it is computed from is."""
        names = tuple(n for n in SUPPRESSED_COUNTS if 0 < getattr(self, n) < SUPPRESS_BELOW)
        if "closed_with_target" in names or "closed_on_time" in names:
            names += ("on_time_percent",)
        return names

    def as_dict(self, *, suppress: bool = False) -> dict[str, Any]:
        """The row as published; ``suppress`` for the tables by service type and district
        (the small numbers left out are null, and named under ``suppressed``)."""
        data: dict[str, Any] = {
            "key": self.key,
            "label": self.label,
            "opened": self.opened,
            "closed": self.closed,
            "closed_with_target": self.closed_with_target,
            "closed_on_time": self.closed_on_time,
            "on_time_percent": self.on_time_percent,
        }
        if suppress:
            hidden = self.suppressed()
            data.update(dict.fromkeys(hidden))
            data["suppressed"] = list(hidden)
        return data


@dataclass(frozen=True)
class CloseTime:
    """Median and 90th percentile of days to close (upper edges of histogram buckets)."""

    closed: int = 0
    median_bucket: int | None = None
    p90_bucket: int | None = None

    @property
    def median_days(self) -> float | None:
        return None if self.median_bucket is None else bucket_upper_days(self.median_bucket)

    @property
    def p90_days(self) -> float | None:
        return None if self.p90_bucket is None else bucket_upper_days(self.p90_bucket)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_days": _days(self.median_days),
            "median_over_a_year": self.median_bucket is not None and self.median_days is None,
            "p90_days": _days(self.p90_days),
            "p90_over_a_year": self.p90_bucket is not None and self.p90_days is None,
        }


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class ServiceTypeFigures:
    counts: Counts
    close_time: CloseTime
    target_days: float | None

    def as_dict(self) -> dict[str, Any]:
        data = {**self.counts.as_dict(suppress=True), **self.close_time.as_dict()}
        return {**data, "target_days": self.target_days}


@dataclass(frozen=True)
class TrendPoint:
    start: dt.date
    counts: Counts

    def as_dict(self) -> dict[str, Any]:
        data = self.counts.as_dict()
        del data["key"]
        return {"start": self.start.isoformat(), **data}


@dataclass(frozen=True)
class BacklogBucket:
    label: str
    min_days: int
    max_days: int | None
    cases: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "min_days": self.min_days,
            "max_days": self.max_days,
            "open": self.cases,
        }


@dataclass(frozen=True)
class Figures:
    jurisdiction_slug: str
    jurisdiction_name: str
    timezone: str
    period: Period
    today: dt.date
    totals: Counts
    close_time: CloseTime
    by_service_type: list[ServiceTypeFigures]
    by_channel: list[Counts]
    by_district: list[Counts]
    backlog: list[BacklogBucket]
    weekly: list[TrendPoint]
    monthly: list[TrendPoint]
    definitions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def backlog_total(self) -> int:
        return sum(b.cases for b in self.backlog)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document: the same figures as the page, in the same order."""
        return {
            "jurisdiction": {
                "slug": self.jurisdiction_slug,
                "name": self.jurisdiction_name,
                "timezone": self.timezone,
            },
            "period": {
                "from": self.period.first_month.strftime("%Y-%m"),
                "to": self.period.last_month.strftime("%Y-%m"),
                "first_day": self.period.start.isoformat(),
                "last_day": self.period.end.isoformat(),
            },
            "as_of": self.today.isoformat(),
            "totals": {
                **self.totals.as_dict(),
                **self.close_time.as_dict(),
                "closed_without_target": self.totals.closed_without_target,
            },
            "by_service_type": [row.as_dict() for row in self.by_service_type],
            "by_channel": [row.as_dict() for row in self.by_channel],
            "by_district": [row.as_dict(suppress=True) for row in self.by_district],
            "backlog": {
                "open": self.backlog_total,
                "by_age": [b.as_dict() for b in self.backlog],
            },
            "trends": {
                "weekly": [p.as_dict() for p in self.weekly],
                "monthly": [p.as_dict() for p in self.monthly],
            },
            "definitions": [{"name": n, "text": t} for n, t in self.definitions],
        }


def jurisdiction_by_slug(session: Session, slug: str) -> Jurisdiction | None:
    return session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == slug)).one_or_none()


def local_today(jurisdiction: Jurisdiction, now: dt.datetime) -> dt.date:
    return now.astimezone(zone_of(jurisdiction.timezone)).date()


def performance_figures(
    session: Session, jurisdiction: Jurisdiction, period: Period, today: dt.date
) -> Figures:
    """Every figure of the public page for ``period``; ``today`` is the local date (backlog)."""
    params = {
        "jurisdiction_id": jurisdiction.id,
        "first_day": period.start,
        "last_day": period.end,
        "first_month": period.first_month,
        "last_month": period.last_month,
    }
    types = session.execute(_SERVICE_TYPES, params).all()
    grouped = _counts_by_dimension(session, params)
    percentiles = _close_times(session, params)
    daily = session.execute(_DAILY_TOTALS, params).all()
    backlog = _backlog(session, jurisdiction.id, today)

    totals = grouped.get(("all", ""), Counts("all", "All requests"))
    totals = Counts("all", "All requests", *_numbers(totals))
    by_type: list[ServiceTypeFigures] = []
    known = set()
    for type_id, code, name, target in types:
        known.add(str(type_id))
        found = grouped.get(("service_type", str(type_id)))
        close = percentiles.get(type_id, CloseTime())
        if found is None and not close.closed:
            continue
        counts = Counts(code, name, *_numbers(found))
        by_type.append(ServiceTypeFigures(counts, close, target))
    for (dimension, value), found in grouped.items():
        if dimension == "service_type" and value not in known:
            label = NO_SERVICE_TYPE if value == "" else f"Service type {value}"
            close = percentiles.get(int(value or 0), CloseTime())
            counts = Counts(value or "none", label, *_numbers(found))
            by_type.append(ServiceTypeFigures(counts, close, None))
    by_channel = sorted(
        (
            Counts(value, _channel_label(value), *_numbers(found))
            for (dimension, value), found in grouped.items()
            if dimension == "channel"
        ),
        key=lambda c: (-c.opened, c.label),
    )
    by_district = sorted(
        (
            Counts(value or "unknown", value or UNKNOWN_DISTRICT, *_numbers(found))
            for (dimension, value), found in grouped.items()
            if dimension == "district"
        ),
        key=lambda c: (c.key == "unknown", c.label.casefold()),
    )
    return Figures(
        jurisdiction_slug=jurisdiction.slug,
        jurisdiction_name=jurisdiction.name,
        timezone=jurisdiction.timezone,
        period=period,
        today=today,
        totals=totals,
        close_time=percentiles.get(-1, CloseTime()),
        by_service_type=by_type,
        by_channel=by_channel,
        by_district=by_district,
        backlog=backlog,
        weekly=_trend(daily, period, weekly=True),
        monthly=_trend(daily, period, weekly=False),
        definitions=[(n, t.format(timezone=jurisdiction.timezone)) for n, t in DEFINITIONS],
    )


def _numbers(counts: Counts | None) -> tuple[int, int, int, int]:
    if counts is None:
        return (0, 0, 0, 0)
    return (counts.opened, counts.closed, counts.closed_with_target, counts.closed_on_time)


def _channel_label(value: str) -> str:
    try:
        return CHANNEL_LABELS.get(Channel(value), value)
    except ValueError:
        return value


# The statements are built once: only their parameters change from call to call.
_J = sa.bindparam("jurisdiction_id", type_=sa.Integer)
_FIRST_DAY = sa.bindparam("first_day", type_=sa.Date)
_LAST_DAY = sa.bindparam("last_day", type_=sa.Date)
_FIRST_MONTH = sa.bindparam("first_month", type_=sa.Date)
_LAST_MONTH = sa.bindparam("last_month", type_=sa.Date)

_SERVICE_TYPES = (
    sa.select(ServiceType.id, ServiceType.code, ServiceType.name, ServiceType.target_days)
    .where(ServiceType.jurisdiction_id == _J)
    .order_by(ServiceType.name, ServiceType.id)
)

_COUNTS = (
    sa.select(
        DailyCount.dimension,
        DailyCount.value,
        sa.func.sum(DailyCount.opened),
        sa.func.sum(DailyCount.closed),
        sa.func.sum(DailyCount.closed_with_target),
        sa.func.sum(DailyCount.closed_on_time),
    )
    .where(
        DailyCount.jurisdiction_id == _J,
        # Named, so the primary key (jurisdiction, dimension, day, value) serves the range.
        DailyCount.dimension.in_(PUBLIC_DIMENSIONS),
        DailyCount.day >= _FIRST_DAY,
        DailyCount.day <= _LAST_DAY,
    )
    .group_by(DailyCount.dimension, DailyCount.value)
)

_DAILY_TOTALS = sa.select(
    DailyCount.day,
    DailyCount.opened,
    DailyCount.closed,
    DailyCount.closed_with_target,
    DailyCount.closed_on_time,
).where(
    DailyCount.jurisdiction_id == _J,
    DailyCount.dimension == "all",
    DailyCount.day >= _FIRST_DAY,
    DailyCount.day <= _LAST_DAY,
)


def _percentiles_statement() -> sa.Select[Any]:
    """Per service type id (0: none; -1: all requests), the nearest-rank median and 90th
    percentile buckets, computed in SQL with running sums over the summed histograms."""
    t = CloseTimeCount
    summed = (
        sa.select(
            t.service_type_id.label("st"),
            t.bucket.label("bucket"),
            sa.cast(sa.func.sum(t.cases), sa.BigInteger).label("n"),
        )
        .where(t.jurisdiction_id == _J, t.month >= _FIRST_MONTH, t.month <= _LAST_MONTH)
        .group_by(t.service_type_id, t.bucket)
        .cte("summed")
    )
    overall = sa.select(
        sa.literal_column("-1").label("st"),
        summed.c.bucket,
        sa.cast(sa.func.sum(summed.c.n), sa.BigInteger),
    ).group_by(summed.c.bucket)
    both = sa.union_all(sa.select(summed.c.st, summed.c.bucket, summed.c.n), overall).subquery()
    running = sa.select(
        both.c.st,
        both.c.bucket,
        sa.func.sum(both.c.n)
        .over(partition_by=both.c.st, order_by=both.c.bucket, rows=(None, 0))
        .label("cum"),
        sa.func.sum(both.c.n).over(partition_by=both.c.st).label("total"),
    ).subquery()
    return sa.select(
        running.c.st,
        sa.func.max(running.c.total),
        sa.func.min(sa.case((2 * running.c.cum >= running.c.total, running.c.bucket))),
        sa.func.min(sa.case((10 * running.c.cum >= 9 * running.c.total, running.c.bucket))),
    ).group_by(running.c.st)


_PERCENTILES = _percentiles_statement()


def _backlog_statement() -> sa.Select[Any]:
    """Open cases by age in local days, from the ``open_now`` counts of each created day."""
    columns = []
    for _label, low, high in BACKLOG_BUCKETS:
        condition = DailyCount.day <= sa.bindparam(f"until_{low}", type_=sa.Date)
        if high is not None:
            condition = sa.and_(
                condition, DailyCount.day >= sa.bindparam(f"since_{high}", type_=sa.Date)
            )
        columns.append(sa.func.sum(sa.case((condition, DailyCount.open_now), else_=0)))
    return sa.select(*columns).where(
        DailyCount.jurisdiction_id == _J,
        DailyCount.dimension == "all",
        DailyCount.open_now != 0,
    )


_BACKLOG = _backlog_statement()


def _counts_by_dimension(session: Session, params: dict[str, Any]) -> dict[tuple[str, str], Counts]:
    out = {}
    for dimension, value, opened, closed, with_target, on_time in session.execute(_COUNTS, params):
        if opened or closed:
            out[(dimension, value)] = Counts(
                value, value, int(opened), int(closed), int(with_target), int(on_time)
            )
    return out


def _close_times(session: Session, params: dict[str, Any]) -> dict[int, CloseTime]:
    return {
        int(st): CloseTime(int(total), int(median), int(p90))
        for st, total, median, p90 in session.execute(_PERCENTILES, params)
        if total
    }


def _backlog(session: Session, jurisdiction_id: int, today: dt.date) -> list[BacklogBucket]:
    params: dict[str, Any] = {"jurisdiction_id": jurisdiction_id}
    for _label, low, high in BACKLOG_BUCKETS:
        params[f"until_{low}"] = today - dt.timedelta(days=low)
        if high is not None:
            params[f"since_{high}"] = today - dt.timedelta(days=high)
    row = session.execute(_BACKLOG, params).one()
    return [
        BacklogBucket(label, low, high, int(n or 0))
        for (label, low, high), n in zip(BACKLOG_BUCKETS, row, strict=True)
    ]


def _trend(rows: Any, period: Period, *, weekly: bool) -> list[TrendPoint]:
    sums: dict[dt.date, list[int]] = {}
    if weekly:
        first = period.start - dt.timedelta(days=period.start.weekday())
        start = first
        while start <= period.end:
            sums[start] = [0, 0, 0, 0]
            start += dt.timedelta(days=7)
    else:
        for month in period.months:
            sums[month] = [0, 0, 0, 0]
    for day, opened, closed, with_target, on_time in rows:
        key = day - dt.timedelta(days=day.weekday()) if weekly else day.replace(day=1)
        row = sums[key]
        row[0] += opened
        row[1] += closed
        row[2] += with_target
        row[3] += on_time
    return [
        TrendPoint(start, Counts(start.isoformat(), _trend_label(start, weekly), *numbers))
        for start, numbers in sums.items()
    ]


def _trend_label(start: dt.date, weekly: bool) -> str:
    return f"Week of {start.isoformat()}" if weekly else start.strftime("%Y-%m")
