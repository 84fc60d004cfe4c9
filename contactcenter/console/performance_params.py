"""What the performance screens' query strings may ask for: a period (a preset or two dates),
a grain, queue and channel filters, a breakdown, a drill-down figure and its filters.

Everything is checked before any figure is read, and anything out of bounds is an
:class:`~contactcenter.errors.Invalid` (a 400 page), never a 500 or an unbounded query: the
15-minute grain covers at most a week and the hourly one a month, so a chart has at most a few
hundred points.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

from werkzeug.datastructures import MultiDict

from contactcenter.cases.queries import MAX_ID
from contactcenter.errors import Invalid
from contactcenter.messages import Channel

Grain = Literal["15min", "hour", "day", "week", "month"]
Preset = Literal["today", "yesterday", "last7", "last30", "this_month", "custom"]
Dimension = Literal["department", "service_type", "district", "channel"]

GRAINS: tuple[Grain, ...] = get_args(Grain)
GRAIN_LABELS: dict[str, str] = {
    "15min": "15 minutes",
    "hour": "Hour",
    "day": "Day",
    "week": "Week",
    "month": "Month",
}
PRESETS: dict[str, str] = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last7": "Last 7 days",
    "last30": "Last 30 days",
    "this_month": "This month",
    "custom": "Custom dates",
}
DIMENSIONS: dict[str, str] = {
    "department": "Department",
    "service_type": "Service type",
    "district": "District",
    "channel": "Channel",
}
MAX_DAYS = 366
MAX_DAYS_BY_GRAIN: dict[str, int] = {"15min": 7, "hour": 31}
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
MAX_FILTERS = 50
MAX_FILTER_LENGTH = 64
MAX_PAGE = 10_000

DRILL_FIGURES: dict[str, str] = {
    "offered": "Contacts offered",
    "answered": "Contacts answered",
    "abandoned": "Contacts abandoned",
    "answered_late": "Contacts answered after the target",
    "transferred": "Contacts transferred",
    "callbacks": "Callbacks requested",
    "self_served": "Calls self-served in the phone menu",
    "opened": "Cases opened",
    "closed": "Cases closed",
    "closed_late": "Cases closed after their target",
    "backlog": "Open cases (backlog)",
    "sla_breached": "Cases that breached their SLA",
    "reopened": "Cases reopened",
    "duplicates": "Cases marked duplicate",
    "dissatisfied": "Cases whose resident was dissatisfied (1 or 2 of 5)",
    "surveyed": "Cases whose resident was sent the survey",
    "rated": "Cases closed with the resident's satisfaction answer",
    "handled": "Contacts handled (finished by an agent)",
}
DRILL_FILTERS: tuple[str, ...] = (
    "queue",
    "channel",
    "department",
    "service_type",
    "district",
    "agent",
)
ID_FILTERS = frozenset({"queue", "department", "service_type", "agent"})
NONE = "none"
NONE_FILTERS = frozenset({"department", "service_type", "district"})
"""Filters where ``none`` asks for the records without a value."""


@dataclass(frozen=True)
class Period:
    """Local days ``start`` to ``end`` inclusive, and the preset that named them."""

    preset: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_params(self) -> dict[str, str]:
        """The query string that asks for this period again (presets stay relative)."""
        if self.preset != "custom":
            return {"range": self.preset}
        return {"range": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}

    def as_dates(self) -> dict[str, str]:
        """The same days as fixed dates (for links that must not move with the clock)."""
        return {"range": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}


def _date(name: str, raw: str | None) -> dt.date:
    if not raw:
        raise Invalid(f"Give '{name}' as a date (YYYY-MM-DD).", fields={name: "required"})
    try:
        value = dt.date.fromisoformat(raw[:10]) if len(raw) == 10 else None
    except ValueError:
        value = None
    if value is None:
        raise Invalid(f"'{name}' must be a date, YYYY-MM-DD.", fields={name: "not a date"})
    if not EARLIEST <= value <= LATEST:
        raise Invalid(
            f"'{name}' must be between {EARLIEST} and {LATEST}.", fields={name: "out of range"}
        )
    return value


def parse_period(args: Mapping[str, str], today: dt.date, default: str = "today") -> Period:
    """The period of ``range`` (a preset, or ``custom`` with ``from`` and ``to``).

    A ``from`` or ``to`` without ``range`` means custom dates: a form with the dates filled in
    and its script off still asks for what it shows.
    """
    preset = args.get("range") or ("custom" if args.get("from") or args.get("to") else default)
    if preset not in PRESETS:
        raise Invalid(
            "'range' must be one of " + ", ".join(PRESETS) + ".", fields={"range": "unknown"}
        )
    if preset == "today":
        return Period(preset, today, today)
    if preset == "yesterday":
        day = today - dt.timedelta(days=1)
        return Period(preset, day, day)
    if preset == "last7":
        return Period(preset, today - dt.timedelta(days=6), today)
    if preset == "last30":
        return Period(preset, today - dt.timedelta(days=29), today)
    if preset == "this_month":
        return Period(preset, today.replace(day=1), today)
    start, end = _date("from", args.get("from")), _date("to", args.get("to"))
    if start > end:
        raise Invalid("'from' must not be after 'to'.", fields={"from": "after 'to'"})
    period = Period(preset, start, end)
    if period.days > MAX_DAYS:
        raise Invalid(f"A period is at most {MAX_DAYS} days.", fields={"from": "too far back"})
    return period


def default_grain(period: Period) -> Grain:
    if period.days <= 2:
        return "hour"
    if period.days <= 62:
        return "day"
    return "week"


def parse_grain(raw: str | None, period: Period) -> Grain:
    """``raw`` or the natural grain of ``period``; fine grains only over short periods."""
    if not raw:
        return default_grain(period)
    if raw not in GRAINS:
        raise Invalid(
            "'grain' must be one of " + ", ".join(GRAINS) + ".", fields={"grain": "unknown"}
        )
    limit = MAX_DAYS_BY_GRAIN.get(raw)
    if limit is not None and period.days > limit:
        raise Invalid(
            f"By {GRAIN_LABELS[raw].lower()} a period is at most {limit} days; "
            "choose a coarser grain or a shorter period.",
            fields={"grain": "too fine for the period"},
        )
    return raw


def _positive_id(name: str, raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise Invalid(f"'{name}' must be a number.", fields={name: "not a number"})
    return int(raw)


def parse_queue_ids(args: MultiDict[str, str]) -> list[int]:
    raw = [value for value in args.getlist("queue") if value]
    if len(raw) > MAX_FILTERS:
        raise Invalid(f"At most {MAX_FILTERS} queues.", fields={"queue": "too many"})
    return sorted({_positive_id("queue", value) for value in raw})


def parse_channels(args: MultiDict[str, str]) -> list[str]:
    known = {channel.value for channel in Channel}
    raw = [value for value in args.getlist("channel") if value]
    for value in raw:
        if value not in known:
            raise Invalid(
                "'channel' must be one of " + ", ".join(sorted(known)) + ".",
                fields={"channel": "unknown"},
            )
    return sorted(set(raw))


def parse_dimension(raw: str | None) -> Dimension:
    if not raw:
        return "department"
    if raw not in DIMENSIONS:
        raise Invalid(
            "'dimension' must be one of " + ", ".join(DIMENSIONS) + ".",
            fields={"dimension": "unknown"},
        )
    return cast(Dimension, raw)


def parse_figure(raw: str | None) -> str:
    if raw not in DRILL_FIGURES:
        raise Invalid(
            "'figure' must be one of " + ", ".join(DRILL_FIGURES) + ".",
            fields={"figure": "unknown"},
        )
    return raw


MULTI_FILTERS = frozenset({"queue", "channel"})
"""Filters that may be given several times (several queues or channels, as the dashboard's
figures take them); the others take one value."""


def parse_drill_filters(args: MultiDict[str, str]) -> dict[str, list[str]]:
    """The drill-down's filters, each a list of values: ids are numbers (or ``none`` where a
    record may have none), the others short text; only queue and channel may repeat."""
    filters: dict[str, list[str]] = {}
    for name in DRILL_FILTERS:
        given = [raw for raw in args.getlist(name) if raw != ""]
        if not given:
            continue
        if len(given) > (MAX_FILTERS if name in MULTI_FILTERS else 1):
            raise Invalid(f"Too many values of '{name}'.", fields={name: "too many"})
        values: list[str] = []
        for raw in given:
            if raw == NONE and name in NONE_FILTERS:
                values.append(NONE)
            elif name in ID_FILTERS:
                values.append(str(_positive_id(name, raw)))
            elif name == "channel":
                values.append(parse_channels(MultiDict([("channel", raw)]))[0])
            elif len(raw) > MAX_FILTER_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in raw):
                raise Invalid(f"'{name}' is not a value it can be.", fields={name: "invalid"})
            else:
                values.append(raw)
        filters[name] = sorted(set(values))
    return filters


def parse_interval(args: Mapping[str, str]) -> dict[str, dt.datetime]:
    """``start_at``/``end_at``: an interval of the period (ISO 8601 with an offset), as a
    dashboard's 15-minute or hourly row opens its own contacts."""
    interval: dict[str, dt.datetime] = {}
    for name in ("start_at", "end_at"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            moment = dt.datetime.fromisoformat(raw) if len(raw) <= 40 else None
        except ValueError:
            moment = None
        if moment is None or moment.utcoffset() is None:
            raise Invalid(
                f"'{name}' must be a date and time with its offset (ISO 8601).",
                fields={name: "invalid"},
            )
        interval[name] = moment
    return interval


def parse_page(raw: str | None) -> int:
    if not raw:
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise Invalid(f"'page' must be a number from 1 to {MAX_PAGE}.", fields={"page": "invalid"})
    return int(raw)
