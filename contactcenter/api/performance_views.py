"""Staff API for performance management (``/api/v1/performance``), for supervisors.

The dashboard and the scorecard as JSON (current and previous period, targets, definitions),
each family of figures on its own (contacts, agents, service delivery, satisfaction), the
records behind a figure (``/cases``) and the records themselves as CSV (``/export/...``).

Every route takes ``?jurisdiction=<slug>`` (needed by staff of several jurisdictions; another
jurisdiction's slug is 404, as everywhere) and the period as ``from`` and ``to``, local days
of the jurisdiction, both included (default: the last seven days up to today), at most
:data:`~contactcenter.performance.period.MAX_DAYS` days. Filters take ids, as the figures key
their breakdowns (``by_queue``, a breakdown row's ``value``): an id that cannot be one is 400
naming the parameter, and one that is not the jurisdiction's (another city's queue, agent,
department or service type) is 404, as on the console.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from flask import Response, request, stream_with_context
from pydantic import AwareDatetime, Field, field_validator

from contactcenter.agents.models import Role, agent_jurisdictions
from contactcenter.api import schemas
from contactcenter.api.views import bp
from contactcenter.auth import require_staff, staff_jurisdiction
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import get_db, get_session, utcnow
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
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
from contactcenter.routing.models import Queue
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
    "rated",
    "handled",
]
IDS = r"^\d{1,18}(,\d{1,18})*$"
MAX_FILTER_IDS = 500
"""Ids one filter may list: more than a jurisdiction has queues, and a bound on the query."""
NONE = "none"
"""The drill-down's value for "records without one" (no department, no service type)."""
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
    start_at: AwareDatetime | None = Field(
        default=None,
        description="Narrows the period to the records from this instant (ISO 8601 with an "
        "offset), as a dashboard's 15-minute or hourly row does.",
    )
    end_at: AwareDatetime | None = Field(
        default=None, description="Narrows the period to the records before this instant."
    )
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


def _refuse(name: str, reason: str) -> Invalid:
    return Invalid(
        f"Invalid query parameter: {name}.", code="invalid_fields", fields={name: reason}
    )


def _ids(name: str, value: str | None) -> list[int] | None:
    """The comma-separated ids of parameter ``name``, each 1 to :data:`MAX_ID` (a larger one is
    out of range for the database's integer columns, which PostgreSQL refuses with an error)."""
    if not value:
        return None
    ids = sorted({int(v) for v in value.split(",")})
    if not all(1 <= i <= MAX_ID for i in ids):
        raise _refuse(name, f"ids are whole numbers from 1 to {MAX_ID}")
    if len(ids) > MAX_FILTER_IDS:
        raise _refuse(name, f"at most {MAX_FILTER_IDS} ids")
    return ids


def _drill_id(name: str, value: str | None) -> str | None:
    """A drill-down filter's id as the service takes it (text), checked as :func:`_ids` does;
    ``none`` stays where a record may have none (a department, a service type)."""
    value = (value or "").strip()
    if not value or (value == NONE and name in {"department", "service_type"}):
        return value or None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ID:
        raise _refuse(name, f"an id: a whole number from 1 to {MAX_ID}")
    return str(int(value))


_OWNED: dict[str, tuple[Any, Any]] = {
    "queue": (Queue.id, Queue.jurisdiction_id),
    "department": (Department.id, Department.jurisdiction_id),
    "service_type": (ServiceType.id, ServiceType.jurisdiction_id),
    "agent": (agent_jurisdictions.c.agent_id, agent_jurisdictions.c.jurisdiction_id),
}
"""Each id filter's records, and the column saying whose they are."""


def _check_owned(jurisdiction: Jurisdiction, wanted: Mapping[str, Sequence[int] | None]) -> None:
    """Refuse ids the jurisdiction has no record of, in one query for all the filters: to its
    staff another city's queue (agent, department, service type) is not there at all.

    :raises NotFound: ``queue_not_found`` (``agent_not_found``...) naming the first such id.
    """
    asked = {name: ids for name, ids in wanted.items() if ids}
    if not asked:
        return
    selects: list[sa.Select[str, int]] = []
    for name, ids in asked.items():
        id_column, owner = _OWNED[name]
        selects.append(
            sa.select(sa.literal(name, sa.String).label("name"), id_column.label("id")).where(
                id_column.in_(ids), owner == jurisdiction.id
            )
        )
    query = selects[0] if len(selects) == 1 else sa.union_all(*selects)
    found = {(name, found_id) for name, found_id in get_session().execute(query)}
    for name, ids in asked.items():
        for missing in (i for i in ids if (name, i) not in found):
            label = name.replace("_", " ")
            raise NotFound(f"No {label} {missing}.", code=f"{name}_not_found")


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


def _owned_queues(query: DashboardQuery, jurisdiction: Jurisdiction) -> list[int] | None:
    queue_ids = _ids("queue", query.queue)
    _check_owned(jurisdiction, {"queue": queue_ids})
    return queue_ids


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
        queue_ids=_owned_queues(query, jurisdiction),
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
        queue_ids=_owned_queues(query, jurisdiction),
        channels=_channels(query.channel),
    )
    return {"data": report.as_dict(), "definitions": DEFINITIONS}


@bp.get("/performance/agents")
@require_staff(Role.SUPERVISOR)
def performance_agents() -> dict[str, Any]:
    query, jurisdiction, period = _scope(AgentsQuery)
    agent_ids = _ids("agent", query.agent)
    _check_owned(jurisdiction, {"agent": agent_ids})
    figures = agent_figures(
        get_session(), jurisdiction, start=period.start, end=period.end, agent_ids=agent_ids
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
    ids = {name: _drill_id(name, getattr(query, name)) for name in _OWNED}
    _check_owned(
        jurisdiction,
        {name: [int(v)] for name, v in ids.items() if v is not None and v != NONE},
    )
    filters = {name: value for name, value in ids.items() if value is not None}
    filters.update(
        (name, value)
        for name in ("channel", "district")
        if (value := getattr(query, name)) is not None and value != ""
    )
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
            start_at=query.start_at,
            end_at=query.end_at,
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
