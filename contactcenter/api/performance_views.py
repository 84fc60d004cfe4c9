"""Staff API for performance management (``/api/v1/performance``), for supervisors.

The dashboard and the scorecard as JSON (current and previous period, targets, definitions),
each family of figures on its own (contacts, agents, service delivery, satisfaction), the
records behind a figure (``/cases``) and the records themselves as CSV (``/export/...``).

Every route takes ``?jurisdiction=<slug>`` (needed by staff of several jurisdictions; another
jurisdiction's slug is 404, as everywhere) and the period as ``from`` and ``to``, local days
of the jurisdiction, both included (default: the last seven days up to today), at most
:data:`~contactcenter.performance.period.MAX_DAYS` days. Filters take ids, as the figures key
their breakdowns (``by_queue``, a breakdown row's ``value``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from flask import Response, request, stream_with_context
from pydantic import Field, field_validator

from contactcenter.agents.models import Role
from contactcenter.api import schemas
from contactcenter.api.views import bp
from contactcenter.auth import require_staff, staff_jurisdiction
from contactcenter.db import get_db, get_session, utcnow
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance import exports
from contactcenter.performance.agent_figures import AGENT_DEFINITIONS, agent_figures
from contactcenter.performance.contact_figures import DEFINITIONS, contact_figures
from contactcenter.performance.dashboard import director_scorecard, supervisor_dashboard
from contactcenter.performance.drilldown import (
    MAX_PER_PAGE,
    DrilldownError,
    drilldown,
)
from contactcenter.performance.period import MAX_DAYS, Period, local_today
from contactcenter.performance.service_figures import SERVICE_DEFINITIONS, service_figures
from contactcenter.surveys.figures import survey_figures
from contactcenter.validation import StrictModel

DEFAULT_DAYS = 7
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)
"""Days outside these are refused: nothing happened then, and the previous period of a day
near the calendar's ends would fall off it."""

Grain = Literal["15min", "hour", "day", "week", "month"]
Dimension = Literal["department", "service_type", "district", "channel"]
Figure = Literal[
    "offered",
    "answered",
    "abandoned",
    "answered_late",
    "transferred",
    "callbacks",
    "self_served",
    "opened",
    "closed",
    "closed_late",
    "backlog",
    "sla_breached",
    "reopened",
    "duplicates",
    "dissatisfied",
    "surveyed",
]
IDS = r"^\d{1,18}(,\d{1,18})*$"
NAMES = r"^[a-z_]{1,16}(,[a-z_]{1,16})*$"


class PeriodQuery(StrictModel):
    """The jurisdiction and the period, which every performance route takes."""

    jurisdiction: str | None = Field(default=None, max_length=64)
    first: dt.date | None = Field(
        default=None,
        alias="from",
        description="First day (the jurisdiction's local date), inclusive. Default: six days "
        "before `to`.",
    )
    to: dt.date | None = Field(default=None, description="Last day, inclusive. Default: today.")

    @field_validator("first", "to", mode="before")
    @classmethod
    def _iso_day(cls, value: Any) -> Any:
        """Only ``YYYY-MM-DD``, and only plausible days."""
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("must be a date (YYYY-MM-DD)") from None
            if not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
            return day
        return value


class DashboardQuery(PeriodQuery):
    grain: Grain = "day"
    queue: str | None = Field(default=None, pattern=IDS, description="Queue ids, comma-separated.")
    channel: str | None = Field(
        default=None, pattern=NAMES, description="Channels, comma-separated."
    )


class ContactsQuery(DashboardQuery):
    pass


class ScorecardQuery(PeriodQuery):
    dimension: Dimension = "department"


class ServiceQuery(PeriodQuery):
    dimension: Dimension | None = None


class AgentsQuery(PeriodQuery):
    agent: str | None = Field(default=None, pattern=IDS, description="Agent ids, comma-separated.")


class CasesQuery(PeriodQuery):
    figure: Figure = Field(description="The figure whose records to list.")
    queue: str | None = Field(default=None, max_length=18)
    channel: str | None = Field(default=None, max_length=16)
    department: str | None = Field(default=None, max_length=18)
    service_type: str | None = Field(default=None, max_length=18)
    district: str | None = Field(default=None, max_length=64)
    agent: str | None = Field(default=None, max_length=18)
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1)

    @field_validator("per_page")
    @classmethod
    def _cap(cls, value: int) -> int:
        return min(value, MAX_PER_PAGE)


Q = TypeVar("Q", bound=PeriodQuery)


def _query(model: type[Q]) -> Q:
    """The query string as ``model``; a refusal's message names the bad parameters."""
    try:
        return schemas.parse(model, request.args.to_dict())
    except Invalid as exc:
        if not exc.fields:
            raise
        named = ", ".join(sorted(exc.fields))
        raise Invalid(
            f"Invalid query parameter: {named}.", code=exc.code, fields=exc.fields
        ) from None


def _period(query: PeriodQuery, jurisdiction: Jurisdiction) -> Period:
    last = query.to or local_today(jurisdiction, utcnow())
    first = query.first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid(
            "Invalid query parameter: from.",
            code="invalid_fields",
            fields={"from": "must not be after to"},
        )
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise Invalid(
            f"The period is {period.days} days long; at most {MAX_DAYS}.",
            code="period_too_long",
            fields={"from": f"at most {MAX_DAYS} days before to"},
        )
    return period


def _ids(value: str | None) -> list[int] | None:
    return [int(v) for v in value.split(",")] if value else None


def _channels(value: str | None) -> list[str] | None:
    if not value:
        return None
    names = value.split(",")
    known = {c.value for c in Channel}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise Invalid(
            "Invalid query parameter: channel.",
            code="invalid_fields",
            fields={"channel": f"unknown channel {unknown[0]!r}"},
        )
    return names


def _scope(model: type[Q]) -> tuple[Q, Jurisdiction, Period]:
    query = _query(model)
    jurisdiction = staff_jurisdiction(get_session(), query.jurisdiction)
    return query, jurisdiction, _period(query, jurisdiction)


@bp.get("/performance/dashboard")
@require_staff(Role.SUPERVISOR)
def performance_dashboard() -> dict[str, Any]:
    query, jurisdiction, period = _scope(DashboardQuery)
    data = supervisor_dashboard(
        get_session(),
        jurisdiction,
        start=period.start,
        end=period.end,
        grain=query.grain,
        queue_ids=_ids(query.queue),
        channels=_channels(query.channel),
    )
    return {"data": data}


@bp.get("/performance/scorecard")
@require_staff(Role.SUPERVISOR)
def performance_scorecard() -> dict[str, Any]:
    query, jurisdiction, period = _scope(ScorecardQuery)
    data = director_scorecard(
        get_session(), jurisdiction, start=period.start, end=period.end, dimension=query.dimension
    )
    return {"data": data}


@bp.get("/performance/contacts")
@require_staff(Role.SUPERVISOR)
def performance_contacts() -> dict[str, Any]:
    query, jurisdiction, period = _scope(ContactsQuery)
    report = contact_figures(
        get_session(),
        jurisdiction,
        start=period.start,
        end=period.end,
        grain=query.grain,
        queue_ids=_ids(query.queue),
        channels=_channels(query.channel),
    )
    return {"data": report.as_dict(), "definitions": DEFINITIONS}


@bp.get("/performance/agents")
@require_staff(Role.SUPERVISOR)
def performance_agents() -> dict[str, Any]:
    query, jurisdiction, period = _scope(AgentsQuery)
    figures = agent_figures(
        get_session(),
        jurisdiction,
        start=period.start,
        end=period.end,
        agent_ids=_ids(query.agent),
    )
    return {
        "data": [f.as_dict() for f in figures],
        "period": period.as_dict(),
        "definitions": AGENT_DEFINITIONS,
    }


@bp.get("/performance/service")
@require_staff(Role.SUPERVISOR)
def performance_service() -> dict[str, Any]:
    query, jurisdiction, period = _scope(ServiceQuery)
    report = service_figures(
        get_session(), jurisdiction, start=period.start, end=period.end, dimension=query.dimension
    )
    return {"data": report.as_dict(), "definitions": SERVICE_DEFINITIONS}


@bp.get("/performance/satisfaction")
@require_staff(Role.SUPERVISOR)
def performance_satisfaction() -> dict[str, Any]:
    _, jurisdiction, period = _scope(PeriodQuery)
    figures = survey_figures(get_session(), jurisdiction, start=period.start, end=period.end)
    return {"data": figures.as_dict(), "period": period.as_dict()}


@bp.get("/performance/cases")
@require_staff(Role.SUPERVISOR)
def performance_cases() -> dict[str, Any]:
    query, jurisdiction, period = _scope(CasesQuery)
    filters = {
        name: getattr(query, name)
        for name in ("queue", "channel", "department", "service_type", "district", "agent")
        if getattr(query, name)
    }
    try:
        page = drilldown(
            get_session(),
            jurisdiction,
            figure=query.figure,
            start=period.start,
            end=period.end,
            filters=filters,
            page=query.page,
            per_page=query.per_page,
        )
    except DrilldownError as exc:
        raise Invalid(
            f"Invalid query parameter: {exc.field}.",
            code="invalid_fields",
            fields={exc.field: str(exc)},
        ) from None
    return {"data": page.as_dict(), "period": period.as_dict()}


Writer = Callable[..., Iterator[str]]


def _csv(writer: Writer, name: str) -> Response:
    """``writer``'s CSV for the period, streamed through its own session (see
    :mod:`contactcenter.api.export_views`: the request's session would idle meanwhile)."""
    _, jurisdiction, period = _scope(PeriodQuery)
    jurisdiction_id, slug = jurisdiction.id, jurisdiction.slug
    database = get_db()
    get_session().close()

    def body() -> Iterator[str]:
        with database.session() as own:
            city = own.get_one(Jurisdiction, jurisdiction_id)
            yield from writer(own, city, period.start, period.end)

    response = Response(stream_with_context(body()), mimetype="text/csv")
    filename = f"{slug}-{name}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/performance/export/cases.csv")
@require_staff(Role.SUPERVISOR)
def performance_export_cases() -> Response:
    return _csv(exports.cases_csv, "cases")


@bp.get("/performance/export/contacts.csv")
@require_staff(Role.SUPERVISOR)
def performance_export_contacts() -> Response:
    return _csv(exports.contacts_csv, "contacts")


@bp.get("/performance/export/interactions.csv")
@require_staff(Role.SUPERVISOR)
def performance_export_interactions() -> Response:
    return _csv(exports.interactions_csv, "interactions")
