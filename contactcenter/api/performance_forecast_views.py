"""Staff API for the forecast and the staffing plan (``/api/v1/performance/forecast`` and
``/staffing``), for supervisors of the jurisdiction.

Both take ``?jurisdiction=<slug>`` (another jurisdiction's slug is 404, as everywhere) and
``start``, a local day (default: this week's Monday, so the days already past show forecast
against actual). Every figure's definition comes with the answer (``definitions``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

from flask import request
from pydantic import BaseModel, Field, field_validator

from contactcenter.agents.models import Role
from contactcenter.api import schemas
from contactcenter.api.views import bp
from contactcenter.auth import require_staff, staff_jurisdiction
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import get_session, utcnow
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance.figures import local_today
from contactcenter.performance.forecast import (
    FIRST_DAY,
    LAST_DAY,
    MAX_HISTORY_WEEKS,
    MAX_WEEKS,
    forecast,
)
from contactcenter.performance.staffing import (
    DEFAULT_MAX_OCCUPANCY,
    DEFAULT_SHRINKAGE,
    staffing_plan,
    week_start,
)
from contactcenter.performance.targets import MAX_TARGET_SECONDS
from contactcenter.routing.models import Queue
from contactcenter.validation import StrictModel

M = TypeVar("M", bound=BaseModel)

MAX_AHT_SECONDS = 7 * 24 * 3600


class ForecastQuery(StrictModel):
    jurisdiction: str | None = Field(default=None, max_length=64)
    channel: Channel | None = Field(
        default=None, description="One channel; without it, every channel together."
    )
    queue: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="One queue's contacts (its id), and its service-level target; without "
        "it, every queue's.",
    )
    start: dt.date | None = Field(
        default=None,
        description="The first local day forecast (YYYY-MM-DD). Default: this week's Monday.",
    )
    weeks: int = Field(default=2, ge=1, le=MAX_WEEKS, description="Weeks forecast.")
    history_weeks: int = Field(
        default=8, ge=1, le=MAX_HISTORY_WEEKS, description="Weeks of history read."
    )
    measure: Literal["offered", "inbound"] = Field(
        default="offered",
        description="Contacts offered to agents, or inbound interactions.",
    )
    profile: Literal["mean", "median"] = Field(
        default="mean", description="How the history's same half-hours are summarised."
    )

    @field_validator("start", mode="before")
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


class StaffingQuery(ForecastQuery):
    channel: Channel = Field(  # type: ignore[assignment]
        default=Channel.VOICE,
        description="The channel staffed (its target, or the queue's, is the default).",
    )
    weeks: int = Field(default=1, ge=1, le=MAX_WEEKS, description="Weeks planned.")
    aht_seconds: float | None = Field(
        default=None,
        gt=0,
        le=MAX_AHT_SECONDS,
        allow_inf_nan=False,
        description="Average handle time. Default: the channel's over the last four weeks "
        "(180 s without history).",
    )
    target_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TARGET_SECONDS,
        description="Service-level target time. Default: the channel's.",
    )
    target_percent: int | None = Field(
        default=None, ge=1, le=99, description="Service-level target share. Default: the channel's."
    )
    max_occupancy: float = Field(
        default=DEFAULT_MAX_OCCUPANCY, gt=0, le=1, allow_inf_nan=False, description="0-1."
    )
    shrinkage: float = Field(
        default=DEFAULT_SHRINKAGE, ge=0, lt=1, allow_inf_nan=False, description="0-1."
    )


def _query(model: type[M]) -> M:
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


def _start(query: ForecastQuery, jurisdiction: Jurisdiction) -> dt.date:
    return query.start or week_start(local_today(jurisdiction, utcnow()))


def _queue(query: ForecastQuery, jurisdiction: Jurisdiction) -> Queue | None:
    """The queue asked for; another jurisdiction's is, to this supervisor, not there at all."""
    if query.queue is None:
        return None
    queue = get_session().get(Queue, query.queue)
    if queue is None or queue.jurisdiction_id != jurisdiction.id:
        raise NotFound(f"No queue {query.queue}.", code="queue_not_found")
    return queue


def _refused(exc: ValueError) -> Invalid:
    """The service's refusal (its message names the input) as a 400."""
    return Invalid(str(exc), code="invalid_fields")


@bp.get("/performance/forecast")
@require_staff(Role.SUPERVISOR)
def performance_forecast() -> dict[str, Any]:
    query = _query(ForecastQuery)
    session = get_session()
    jurisdiction = staff_jurisdiction(session, query.jurisdiction)
    queue = _queue(query, jurisdiction)
    try:
        result = forecast(
            session,
            jurisdiction,
            channel=None if query.channel is None else query.channel.value,
            start=_start(query, jurisdiction),
            weeks=query.weeks,
            history_weeks=query.history_weeks,
            measure=query.measure,
            profile=query.profile,
            queue_id=None if queue is None else queue.id,
        )
    except ValueError as exc:
        raise _refused(exc) from None
    return {"data": result.as_dict(), "jurisdiction": jurisdiction.slug}


@bp.get("/performance/staffing")
@require_staff(Role.SUPERVISOR)
def performance_staffing() -> dict[str, Any]:
    query = _query(StaffingQuery)
    session = get_session()
    jurisdiction = staff_jurisdiction(session, query.jurisdiction)
    queue = _queue(query, jurisdiction)
    try:
        plan = staffing_plan(
            session,
            jurisdiction,
            channel=query.channel.value,
            start=_start(query, jurisdiction),
            weeks=query.weeks,
            history_weeks=query.history_weeks,
            measure=query.measure,
            profile=query.profile,
            aht_seconds=query.aht_seconds,
            target_seconds=query.target_seconds,
            target_percent=query.target_percent,
            max_occupancy=query.max_occupancy,
            shrinkage=query.shrinkage,
            queue=queue,
        )
    except ValueError as exc:
        raise _refused(exc) from None
    return {"data": plan.as_dict(), "jurisdiction": jurisdiction.slug}
