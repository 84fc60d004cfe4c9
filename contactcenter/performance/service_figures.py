"""Service delivery figures for staff: how the city's departments deal with the requests.

Read from the case rollups (:mod:`contactcenter.performance.rollup`), never from the cases, in
at most four queries whatever the period or the number of cases: the labels of the breakdown
(departments, service types or districts; none for channels), the counts of the period
with the backlog now and its age (one pass over the daily rows of the totals and of the
breakdown), the daily trend, and the median and 90th percentile of time to close (running sums
over the time-to-close histograms).

Staff see exact numbers: unlike the public page (:mod:`contactcenter.performance.figures`),
small counts are not suppressed. How each figure is computed is stated in
:data:`SERVICE_DEFINITIONS`, which the screens, the API and the weekly summary show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.db import utcnow
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.figures import (
    BACKLOG_BUCKETS,
    CHANNEL_LABELS,
    NO_SERVICE_TYPE,
    UNKNOWN_DISTRICT,
)
from contactcenter.performance.models import CloseTimeByCount, CloseTimeCount, DailyCount
from contactcenter.performance.rollup import OVERFLOW_BUCKET, bucket_upper_days, zone_of
from contactcenter.routing.models import District

Dimension = Literal["department", "service_type", "district", "channel"]
DIMENSION_NAMES: tuple[Dimension, ...] = get_args(Dimension)

NO_DEPARTMENT = "No department"
MAX_DAYS = 1100
"""The longest period asked for (three years): the daily trend has one point per day."""

SERVICE_DEFINITIONS: dict[str, str] = {
    "period": (
        "Dates are the city's local dates; the period runs from the first day's midnight to "
        "the last day's end, whatever the length of the days (a DST change makes one 23 or 25 "
        "hours long). Figures follow a request changed afterwards (closed, reopened, moved to "
        "another department): a past period's figures can change."
    ),
    "opened": "Requests created in the period, whatever their channel or status.",
    "closed": (
        "Requests whose status is resolved or closed, counted on the day they were resolved (or "
        "closed, if never resolved). A reopened request no longer counts as closed until it "
        "closes again, then counts on that later day."
    ),
    "within_target_rate": (
        "Of the requests closed in the period that had a due date (their service type's "
        "target), the share closed no later than it. Requests without a due date are left out "
        "(closed minus closed_with_target of them)."
    ),
    "median_days": (
        "Time to close is from a request's creation to its resolution, for the requests closed "
        "in the months the period touches (the histograms are kept by local month). The median "
        "is the time within which half of them closed, the 90th percentile (p90_days) nine in "
        "ten (nearest rank), each given as the upper end of its step: one hour for the first two "
        "days, one day up to a year (beyond a year, no number: over_a_year). Not kept by channel."
    ),
    "backlog": (
        "Requests open now (new, open or in progress), whatever the period; by age in local "
        "calendar days since they were created (0 = today)."
    ),
    "sla_breached": (
        "Requests created in the period whose SLA clock passed a target (first response or "
        "resolution) at least once, even if it later closed; sla_breach_rate is their share of "
        "the requests opened."
    ),
    "reopened": (
        "Requests closed in the period that had been reopened at least once before; reopen_rate "
        "is their share of the requests closed."
    ),
    "duplicates": (
        "Requests created in the period that staff confirmed as duplicates of another request; "
        "duplicate_rate is their share of the requests opened."
    ),
    "satisfaction": (
        "The residents' answers (1 poor to 5 great) to the one-question survey sent after a "
        "request closes, counted with the requests closed in the period: sat_responses answers, "
        "sat_average their mean, sat_satisfied_rate the share of 4s and 5s."
    ),
    "rates": (
        "Rates are fractions from 0 to 1; none (null, shown as a dash) when there is nothing to "
        "divide by."
    ),
}


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True)
class ServiceTotals:
    """The service delivery figures of a period, for everything or for one row."""

    opened: int = 0
    closed: int = 0
    closed_with_target: int = 0
    closed_on_time: int = 0
    backlog: int = 0
    sla_breached: int = 0
    reopened: int = 0
    duplicates: int = 0
    sat_responses: int = 0
    sat_score_sum: int = 0
    sat_satisfied: int = 0
    median_bucket: int | None = None
    p90_bucket: int | None = None

    @property
    def within_target_rate(self) -> float | None:
        return _ratio(self.closed_on_time, self.closed_with_target)

    @property
    def median_days(self) -> float | None:
        return None if self.median_bucket is None else bucket_upper_days(self.median_bucket)

    @property
    def p90_days(self) -> float | None:
        return None if self.p90_bucket is None else bucket_upper_days(self.p90_bucket)

    @property
    def reopen_rate(self) -> float | None:
        return _ratio(self.reopened, self.closed)

    @property
    def sla_breach_rate(self) -> float | None:
        return _ratio(self.sla_breached, self.opened)

    @property
    def duplicate_rate(self) -> float | None:
        return _ratio(self.duplicates, self.opened)

    @property
    def sat_average(self) -> float | None:
        return _ratio(self.sat_score_sum, self.sat_responses)

    @property
    def sat_satisfied_rate(self) -> float | None:
        return _ratio(self.sat_satisfied, self.sat_responses)

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        del data["median_bucket"], data["p90_bucket"]
        return {
            **data,
            "within_target_rate": _rounded(self.within_target_rate),
            "median_days": _rounded(self.median_days),
            "median_over_a_year": self.median_bucket == OVERFLOW_BUCKET,
            "p90_days": _rounded(self.p90_days),
            "p90_over_a_year": self.p90_bucket == OVERFLOW_BUCKET,
            "reopen_rate": _rounded(self.reopen_rate),
            "sla_breach_rate": _rounded(self.sla_breach_rate),
            "duplicate_rate": _rounded(self.duplicate_rate),
            "sat_average": _rounded(self.sat_average),
            "sat_satisfied_rate": _rounded(self.sat_satisfied_rate),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class ServiceRow:
    """One value of the breakdown: its key as kept in the rollups (a department's or service
    type's id, a district, a channel; "" for none) and a label to show."""

    value: str
    label: str
    totals: ServiceTotals

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "label": self.label, **self.totals.as_dict()}


@dataclass(frozen=True)
class ServiceReport:
    start: dt.date
    end: dt.date
    totals: ServiceTotals
    rows: list[ServiceRow]
    trend: list[tuple[dt.date, int, int]]
    """Every day of the period: (day, opened, closed)."""
    backlog_by_age: list[tuple[str, int]]
    dimension: Dimension | None = None
    today: dt.date | None = None
    definitions: dict[str, str] = field(default_factory=lambda: dict(SERVICE_DEFINITIONS))

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "as_of": None if self.today is None else self.today.isoformat(),
            "dimension": self.dimension,
            "totals": self.totals.as_dict(),
            "rows": [row.as_dict() for row in self.rows],
            "trend": [
                {"day": day.isoformat(), "opened": opened, "closed": closed}
                for day, opened, closed in self.trend
            ],
            "backlog_by_age": [{"label": label, "open": n} for label, n in self.backlog_by_age],
            "definitions": self.definitions,
        }


def service_figures(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    start: dt.date,
    end: dt.date,
    dimension: Dimension | None = None,
    now: dt.datetime | None = None,
    trend: bool = True,
) -> ServiceReport:
    """The service delivery figures of the local days ``start`` to ``end`` (both included),
    broken down by ``dimension`` when one is given; the backlog is the one at ``now``.
    Without ``trend`` the daily trend is not read (one statement less) and left empty.

    :raises Invalid: the period ends before it starts or is longer than :data:`MAX_DAYS`, or
        the dimension is unknown.
    """
    if end < start:
        raise Invalid("The period must not end before it starts.", fields={"end": "before start"})
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(f"A period is at most {MAX_DAYS} days long.", fields={"start": "too far"})
    if dimension is not None and dimension not in DIMENSION_NAMES:
        raise Invalid(
            f"The breakdown is one of {', '.join(DIMENSION_NAMES)}.",
            fields={"dimension": "unknown"},
        )
    today = (now or utcnow()).astimezone(zone_of(jurisdiction.timezone)).date()
    params: dict[str, Any] = {
        "j": jurisdiction.id,
        "first_day": start,
        "last_day": end,
        "first_month": start.replace(day=1),
        "last_month": end.replace(day=1),
        "dimension": dimension or "all",
    }
    for _label, low, high in BACKLOG_BUCKETS:
        params[f"until_{low}"] = today - dt.timedelta(days=low)
        if high is not None:
            params[f"since_{high}"] = today - dt.timedelta(days=high)

    labels = _labels(session, jurisdiction.id, dimension)
    counts: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in session.execute(_COUNTS, params):
        counts[(row[0], row[1])] = tuple(int(n or 0) for n in row[2:])
    trend_rows = session.execute(_TREND, params).all() if trend else []
    percentiles = _percentiles(session, params, dimension)

    empty = (0,) * (len(_SUMMED) + 1 + len(BACKLOG_BUCKETS))
    overall = counts.get(("all", ""), empty)
    totals = _totals(overall, percentiles.get(None))
    rows: list[ServiceRow] = []
    if dimension is not None:
        values = {v for d, v in counts if d == dimension} | {
            v for v in percentiles if v is not None
        }
        for value in values:
            found = _totals(counts.get((dimension, value), empty), percentiles.get(value))
            rows.append(ServiceRow(value, _row_label(dimension, value, labels), found))
        rows.sort(key=lambda r: (-r.totals.opened, -r.totals.backlog, r.label.casefold()))

    by_day = {day: (int(opened), int(closed)) for day, opened, closed in trend_rows}
    daily = []
    day = start
    while trend and day <= end:
        opened, closed = by_day.get(day, (0, 0))
        daily.append((day, opened, closed))
        day += dt.timedelta(days=1)
    ages = overall[len(_SUMMED) + 1 :]
    backlog_by_age = [
        (label, n) for (label, _low, _high), n in zip(BACKLOG_BUCKETS, ages, strict=True)
    ]
    return ServiceReport(
        start=start,
        end=end,
        totals=totals,
        rows=rows,
        trend=daily,
        backlog_by_age=backlog_by_age,
        dimension=dimension,
        today=today,
    )


def _totals(counts: tuple[int, ...], percentile: tuple[int, int] | None) -> ServiceTotals:
    summed = dict(zip(_SUMMED, counts, strict=False))
    median, p90 = percentile if percentile is not None else (None, None)
    return ServiceTotals(
        **summed,
        backlog=counts[len(_SUMMED)],
        median_bucket=median,
        p90_bucket=p90,
    )


def _labels(session: Session, jurisdiction_id: int, dimension: Dimension | None) -> dict[str, str]:
    # A case keeps its district's code; imported cases keep their source's name (a borough).
    sources: dict[str | None, Any] = {
        "department": (Department.id, Department.name, Department.jurisdiction_id),
        "service_type": (ServiceType.id, ServiceType.name, ServiceType.jurisdiction_id),
        "district": (District.code, District.name, District.jurisdiction_id),
    }
    if dimension not in sources:
        return {}
    key, name, owner = sources[dimension]
    query = sa.select(key, name).where(owner == jurisdiction_id)
    return {str(k): n for k, n in session.execute(query)}


def _row_label(dimension: Dimension, value: str, labels: dict[str, str]) -> str:
    if dimension == "department":
        return labels.get(value) or (f"Department {value}" if value else NO_DEPARTMENT)
    if dimension == "service_type":
        return labels.get(value) or (f"Service type {value}" if value else NO_SERVICE_TYPE)
    if dimension == "district":
        return labels.get(value) or value or UNKNOWN_DISTRICT
    try:
        return CHANNEL_LABELS.get(Channel(value), value)
    except ValueError:
        return value or "Unknown"


# --- Statements (built once: only their parameters change) -------------------------------------

_J = sa.bindparam("j", type_=sa.Integer)
_FIRST_DAY = sa.bindparam("first_day", type_=sa.Date)
_LAST_DAY = sa.bindparam("last_day", type_=sa.Date)
_FIRST_MONTH = sa.bindparam("first_month", type_=sa.Date)
_LAST_MONTH = sa.bindparam("last_month", type_=sa.Date)
_DIMENSION = sa.bindparam("dimension", type_=sa.String)

_SUMMED = (
    "opened",
    "closed",
    "closed_with_target",
    "closed_on_time",
    "sla_breached",
    "reopened",
    "duplicates",
    "sat_responses",
    "sat_score_sum",
    "sat_satisfied",
)
"""The counts of the period, summed over its days (see ServiceTotals' fields)."""


def _counts_statement() -> sa.Select[Any]:
    """Per (dimension, value) of the totals and of the breakdown: the period's sums, the
    backlog now (every day's ``open_now``) and the backlog by age. The days outside the
    period are read only where something is still open."""
    d = DailyCount
    in_period = sa.and_(d.day >= _FIRST_DAY, d.day <= _LAST_DAY)
    columns: list[Any] = [
        sa.func.sum(sa.case((in_period, getattr(d, name)), else_=0)) for name in _SUMMED
    ]
    columns.append(sa.func.sum(d.open_now))
    for _label, low, high in BACKLOG_BUCKETS:
        condition = d.day <= sa.bindparam(f"until_{low}", type_=sa.Date)
        if high is not None:
            condition = sa.and_(condition, d.day >= sa.bindparam(f"since_{high}", type_=sa.Date))
        columns.append(sa.func.sum(sa.case((condition, d.open_now), else_=0)))
    return (
        sa.select(d.dimension, d.value, *columns)
        .where(
            d.jurisdiction_id == _J,
            d.dimension.in_([sa.literal("all"), _DIMENSION]),
            sa.or_(in_period, d.open_now != 0),
        )
        .group_by(d.dimension, d.value)
    )


_COUNTS = _counts_statement()

_TREND = sa.select(DailyCount.day, DailyCount.opened, DailyCount.closed).where(
    DailyCount.jurisdiction_id == _J,
    DailyCount.dimension == "all",
    DailyCount.day >= _FIRST_DAY,
    DailyCount.day <= _LAST_DAY,
)


def _percentiles_statement(dimension: Dimension | None) -> sa.Select[Any]:
    """Per row value (NULL: all requests), the nearest-rank median and 90th-percentile
    buckets of the months the period touches, with running sums over the summed histograms.
    The totals come from the service types' histogram (every closed case is in it once)."""
    t = CloseTimeCount
    in_months = sa.and_(t.month >= _FIRST_MONTH, t.month <= _LAST_MONTH, t.jurisdiction_id == _J)
    parts: list[Any] = [
        sa.select(
            sa.cast(sa.null(), sa.String).label("value"),
            t.bucket.label("bucket"),
            sa.cast(sa.func.sum(t.cases), sa.BigInteger).label("n"),
        )
        .where(in_months)
        .group_by(t.bucket)
    ]
    if dimension == "service_type":
        value = sa.case((t.service_type_id == 0, ""), else_=sa.cast(t.service_type_id, sa.String))
        parts.append(
            sa.select(value, t.bucket, sa.cast(sa.func.sum(t.cases), sa.BigInteger))
            .where(in_months)
            .group_by(t.service_type_id, t.bucket)
        )
    elif dimension in ("department", "district"):
        b = CloseTimeByCount
        parts.append(
            sa.select(b.value, b.bucket, sa.cast(sa.func.sum(b.cases), sa.BigInteger))
            .where(
                b.jurisdiction_id == _J,
                b.month >= _FIRST_MONTH,
                b.month <= _LAST_MONTH,
                b.dimension == dimension,
            )
            .group_by(b.value, b.bucket)
        )
    both = sa.union_all(*parts).subquery()
    running = sa.select(
        both.c.value,
        both.c.bucket,
        sa.func.sum(both.c.n)
        .over(partition_by=both.c.value, order_by=both.c.bucket, rows=(None, 0))
        .label("cum"),
        sa.func.sum(both.c.n).over(partition_by=both.c.value).label("total"),
    ).subquery()
    return sa.select(
        running.c.value,
        sa.func.max(running.c.total),
        sa.func.min(sa.case((2 * running.c.cum >= running.c.total, running.c.bucket))),
        sa.func.min(sa.case((10 * running.c.cum >= 9 * running.c.total, running.c.bucket))),
    ).group_by(running.c.value)


_PERCENTILES: dict[Dimension | None, sa.Select[Any]] = {
    key: _percentiles_statement(key)
    for key in (None, *DIMENSION_NAMES)  # type: ignore[misc]
}


def _percentiles(
    session: Session, params: dict[str, Any], dimension: Dimension | None
) -> dict[str | None, tuple[int, int]]:
    return {
        value: (int(median), int(p90))
        for value, total, median, p90 in session.execute(_PERCENTILES[dimension], params)
        if total
    }
