"""Parsing the query parameters of GET requests and GET servicerequestupdates.

Every bad value is refused with :class:`contactcenter.errors.Invalid` naming the parameter
(the views answer 400 in the Open311 error format); nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from contactcenter.errors import Invalid

DEFAULT_SPAN = dt.timedelta(days=90)
"""The spec's default window, and the widest a start_date/end_date pair may span."""
MAX_RESULTS = 1000
"""The spec's default cap on one response; also the largest page_size."""
MAX_OFFSET = 10_000_000
"""Pages beyond this many rows are empty without asking the database."""
MAX_IDS = MAX_RESULTS
MAX_PARAM_LENGTH = 20_000
MIN_YEAR = 1900
MAX_YEAR = 2200
"""Dates outside these years are refused: nothing was requested then, and a 90-day window
around year 1 or 9999 is outside what a datetime can hold."""
STATUSES = ("open", "closed")

_SPACED_OFFSET = re.compile(r" (\d{2}:?\d{2})$")
_W3C = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:?\d{2})?)?$"
)


@dataclass(frozen=True)
class Window:
    """A time window, a page and its size."""

    start: dt.datetime
    end: dt.datetime
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class RequestFilter:
    """GET requests' parameters, checked."""

    ids: tuple[str, ...]
    """service_request_id: when given it overrides every other filter (the spec)."""
    service_codes: tuple[str, ...]
    statuses: tuple[str, ...]
    window: Window
    extensions: bool


def comma_list(values: Iterable[str], *, limit: int = MAX_IDS, name: str = "") -> tuple[str, ...]:
    """Repeated and comma-delimited values as one list, blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for value in values:
        if len(value) > MAX_PARAM_LENGTH:
            raise Invalid(f"{name} is too long.", fields={name: "too long"})
        for part in value.split(","):
            part = part.strip()
            if part:
                seen[part] = None
    if len(seen) > limit:
        raise Invalid(f"At most {limit} values of {name}.", fields={name: f"at most {limit}"})
    return tuple(seen)


def parse_time(value: str, name: str, zone: dt.tzinfo) -> dt.datetime:
    """A W3C-format date or date-time (``2010-01-01T00:00:00Z``); without a zone, in the
    jurisdiction's. A ``+`` offset sent unencoded in a URL arrives as a space: accepted."""
    text = _SPACED_OFFSET.sub(r"+\1", value.strip())
    if not _W3C.match(text):
        raise _bad_time(name, value)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise _bad_time(name, value) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise Invalid(
            f"{name} must be a date from {MIN_YEAR} to {MAX_YEAR}.",
            fields={name: f"a date from {MIN_YEAR} to {MAX_YEAR}"},
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def _bad_time(name: str, value: str) -> Invalid:
    shown = value if len(value) <= 40 else value[:40] + "..."
    return Invalid(
        f"{name} {shown!r} is not a W3C date-time such as 2010-01-01T00:00:00Z.",
        fields={name: "expected a W3C date-time, e.g. 2010-01-01T00:00:00Z"},
    )


def parse_window(
    start: str | None,
    end: str | None,
    page: str | None,
    page_size: str | None,
    *,
    zone: dt.tzinfo,
    now: dt.datetime,
) -> Window:
    """The spec's range rules: without dates the last 90 days; one date makes a 90-day range
    with it; a pair may not span more than 90 days. Pages start at 1; page_size is at most
    1000 (the spec's cap on one response) and defaults to it."""
    start_at = parse_time(start, "start_date", zone) if start else None
    end_at = parse_time(end, "end_date", zone) if end else None
    if start_at and end_at:
        if end_at < start_at:
            raise Invalid(
                "end_date is before start_date.", fields={"end_date": "before start_date"}
            )
        if end_at - start_at > DEFAULT_SPAN:
            raise Invalid(
                "start_date and end_date may not span more than 90 days.",
                fields={"end_date": "at most 90 days after start_date"},
            )
    elif start_at:
        end_at = start_at + DEFAULT_SPAN
    elif end_at:
        start_at = end_at - DEFAULT_SPAN
    else:
        end_at = now
        start_at = now - DEFAULT_SPAN
    assert start_at is not None and end_at is not None
    return Window(
        start=start_at,
        end=end_at,
        page=_positive_int(page, "page", default=1, maximum=None),
        page_size=_positive_int(page_size, "page_size", default=MAX_RESULTS, maximum=MAX_RESULTS),
    )


def _positive_int(value: str | None, name: str, *, default: int, maximum: int | None) -> int:
    if value is None or value.strip() == "":
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) < 1:
        raise Invalid(
            f"{name} must be a whole number from 1{f' to {maximum}' if maximum else ''}.",
            fields={name: "a positive whole number"},
        )
    number = int(text)
    if maximum is not None and number > maximum:
        raise Invalid(f"{name} may be at most {maximum}.", fields={name: f"at most {maximum}"})
    return number


def parse_statuses(values: Iterable[str]) -> tuple[str, ...]:
    statuses = comma_list(values, limit=10, name="status")
    unknown = [s for s in statuses if s.lower() not in STATUSES]
    if unknown:
        raise Invalid(
            f"status must be open or closed (comma-delimited), not {unknown[0][:40]!r}.",
            fields={"status": "open, closed"},
        )
    return tuple(s.lower() for s in statuses)


def parse_bool(value: str | None) -> bool:
    """``extensions=true``: true, 1 or yes; anything else is false (the parameter is optional)."""
    return (value or "").strip().lower() in {"true", "1", "yes"}
