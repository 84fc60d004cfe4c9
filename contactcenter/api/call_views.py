"""Staff API for calls (``/api/v1/calls``): what happened on each call, and the figures.

Supervisors list a jurisdiction's calls and read its summary (abandoned calls and waits are
the figures a contact centre is judged by); any staff member of the call's jurisdiction reads
one call, as agents do from a case. Another jurisdiction's call is 404, as everywhere.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import contains_eager

from contactcenter.agents.models import Role
from contactcenter.api import schemas
from contactcenter.api.call_serializers import (
    CallRow,
    OutcomeFigures,
    call_detail_json,
    call_json,
    summary_json,
)
from contactcenter.api.routing_schemas import CODE
from contactcenter.api.views import bp
from contactcenter.auth import jurisdiction_ids, require_staff, staff_jurisdiction
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Case, Interaction
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import get_session, utcnow
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.routing.models import Queue
from contactcenter.validation import StrictModel

M = TypeVar("M", bound=BaseModel)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
SUMMARY_PERIOD = dt.timedelta(hours=24)

# "+05:00" in a query string that was not URL-encoded arrives as " 05:00".
_UNENCODED_PLUS = re.compile(r"^(\d{4}-\d\d-\d\dT\S+) (\d\d(?::?\d\d)?)$")


class _Period(StrictModel):
    jurisdiction: str | None = Field(default=None, max_length=64)
    since: dt.datetime | None = None
    """Inclusive. Without a time zone, the jurisdiction's local time."""
    until: dt.datetime | None = None
    """Exclusive."""

    @field_validator("since", "until", mode="before")
    @classmethod
    def _restore_plus(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _UNENCODED_PLUS.sub(r"\1+\2", value)
        return value


class CallListQuery(_Period):
    outcome: CallOutcome | None = None
    queue: str | None = Field(default=None, pattern=CODE)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1)
    cursor: str | None = Field(default=None, max_length=200)

    @field_validator("limit")
    @classmethod
    def _cap_limit(cls, value: int) -> int:
        """A larger page is served at the maximum size; the response's ``limit`` says so."""
        return min(value, MAX_LIMIT)


class SummaryQuery(_Period):
    """The period alone: the figures are the whole jurisdiction's."""


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


def _zone(jurisdiction: Jurisdiction) -> dt.tzinfo:
    try:
        return ZoneInfo(jurisdiction.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _instant(name: str, value: dt.datetime | None, zone: dt.tzinfo) -> dt.datetime | None:
    """``value`` in UTC, a time without a zone being the jurisdiction's wall-clock time."""
    if value is None:
        return None
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise Invalid(
            f"Invalid query parameter: {name}.",
            code="invalid_fields",
            fields={name: "out of range"},
        ) from None


def _bounds(
    query: _Period, jurisdiction: Jurisdiction
) -> tuple[dt.datetime | None, dt.datetime | None]:
    zone = _zone(jurisdiction)
    return _instant("since", query.since, zone), _instant("until", query.until, zone)


def _check_order(since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise Invalid(
            "Invalid query parameter: until.",
            code="invalid_fields",
            fields={"until": "must be later than since"},
        )


def _call_rows() -> sa.Select[Call, str, str | None, str | None]:
    """Calls with their jurisdiction, queue and case, all in one query."""
    return (
        sa.select(Call, Jurisdiction.slug, Queue.code, Case.tracking_number)
        .join(Call.interaction)
        .join(Jurisdiction, Jurisdiction.id == Call.jurisdiction_id)
        .outerjoin(Queue, Queue.id == Call.queue_id)
        .outerjoin(Case, Case.id == Interaction.case_id)
        .options(contains_eager(Call.interaction))
    )


def _queue_id(jurisdiction: Jurisdiction, code: str) -> int:
    queue_id = get_session().scalar(
        sa.select(Queue.id).where(Queue.jurisdiction_id == jurisdiction.id, Queue.code == code)
    )
    if queue_id is None:
        raise Invalid(
            f'No queue "{code}" in {jurisdiction.slug}.',
            code="invalid_fields",
            fields={"queue": "no such queue in this jurisdiction"},
        )
    return queue_id


def _encode_cursor(call: Call) -> str:
    raw = f"{call.created_at.isoformat()}|{call.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The (created_at, id) of the last call of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, call_id = raw.partition("|")
        at = dt.datetime.fromisoformat(created)
        number = int(call_id)
        if at.tzinfo is None or not 1 <= number <= MAX_ID:
            raise ValueError(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid(
            "Invalid query parameter: cursor.",
            code="invalid_fields",
            fields={"cursor": "not a cursor this list gave"},
        ) from None
    return at, number


@bp.get("/calls")
@require_staff(Role.SUPERVISOR)
def calls_index() -> dict[str, Any]:
    """Newest first, a page at a time; ``next_cursor`` fetches the next page (keyset, so a
    call arriving meanwhile neither repeats nor skips a row)."""
    query = _query(CallListQuery)
    session = get_session()
    jurisdiction = staff_jurisdiction(session, query.jurisdiction)
    since, until = _bounds(query, jurisdiction)
    _check_order(since, until)
    select = _call_rows().where(Call.jurisdiction_id == jurisdiction.id)
    if query.outcome is not None:
        select = select.where(Call.outcome == query.outcome)
    if query.queue is not None:
        select = select.where(Call.queue_id == _queue_id(jurisdiction, query.queue))
    if since is not None:
        select = select.where(Call.created_at >= since)
    if until is not None:
        select = select.where(Call.created_at < until)
    if query.cursor is not None:
        at, last_id = _decode_cursor(query.cursor)
        select = select.where(
            sa.or_(Call.created_at < at, sa.and_(Call.created_at == at, Call.id < last_id))
        )
    rows = [
        CallRow(call, slug, queue, tracking)
        for call, slug, queue, tracking in session.execute(
            select.order_by(Call.created_at.desc(), Call.id.desc()).limit(query.limit + 1)
        )
    ]
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return {
        "data": [call_json(row) for row in page],
        "limit": query.limit,
        "next_cursor": _encode_cursor(page[-1].call) if more else None,
    }


@bp.get("/calls/<int:call_id>")
@require_staff()
def call_show(call_id: int) -> dict[str, Any]:
    row = None
    if 1 <= call_id <= MAX_ID:  # a larger id is out of range for the database, not a 500
        mine = _call_rows().where(Call.id == call_id, Call.jurisdiction_id.in_(jurisdiction_ids()))
        row = get_session().execute(mine).one_or_none()
    if row is None:
        raise NotFound(f"No call {call_id}.", code="call_not_found")
    call, slug, queue, tracking = row
    return {"data": call_detail_json(CallRow(call, slug, queue, tracking))}


@bp.get("/calls/summary")
@require_staff(Role.SUPERVISOR)
def calls_summary() -> dict[str, Any]:
    """The period's figures in one ``GROUP BY``; by default the last 24 hours."""
    query = _query(SummaryQuery)
    session = get_session()
    jurisdiction = staff_jurisdiction(session, query.jurisdiction)
    since, until = _bounds(query, jurisdiction)
    until = until or utcnow()
    since = since or until - SUMMARY_PERIOD
    _check_order(since, until)
    result = session.execute(
        sa.select(
            Call.direction,
            Call.outcome,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(Call.wait_seconds), 0),
            sa.func.count(Call.wait_seconds),
            sa.func.max(Call.wait_seconds),
            sa.func.coalesce(sa.func.sum(Call.talk_seconds), 0),
            sa.func.count(Call.talk_seconds),
            sa.func.count(Call.callback_requested_at),
        )
        .where(
            Call.jurisdiction_id == jurisdiction.id,
            Call.created_at >= since,
            Call.created_at < until,
        )
        .group_by(Call.direction, Call.outcome)
    )
    figures = [
        OutcomeFigures(
            direction=str(direction),
            outcome=str(outcome),
            calls=int(calls),
            wait_total=int(wait_total or 0),
            wait_count=int(wait_count),
            wait_max=None if wait_max is None else int(wait_max),
            talk_total=int(talk_total or 0),
            talk_count=int(talk_count),
            callbacks=int(callbacks),
        )
        for (
            direction,
            outcome,
            calls,
            wait_total,
            wait_count,
            wait_max,
            talk_total,
            talk_count,
            callbacks,
        ) in result
    ]
    return {"data": summary_json(jurisdiction.slug, since, until, figures)}
