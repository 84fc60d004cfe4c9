"""Staff API for quarantined mail (``/api/v1/mail/quarantine``): supervisors only.

Mail that could not be processed is kept whole; a supervisor lists it, downloads the
original message to see what went wrong, and retries it after a fix. Another
jurisdiction's mail is 404, as everywhere.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from sqlalchemy.orm import undefer

from contactcenter.agents.models import Role
from contactcenter.api.views import bp
from contactcenter.auth import jurisdiction_ids, require_staff
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import get_session
from contactcenter.errors import Invalid, NotFound, Unavailable
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.mail.models import RawEmail
from contactcenter.mail.service import (
    QUEUE_PROCESSING,
    QueueProcessing,
    quarantined,
    release_for_retry,
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _raw_json(raw: RawEmail, slug: str) -> dict[str, Any]:
    return {
        "id": raw.id,
        "jurisdiction": slug,
        "state": str(raw.state),
        "source": raw.source,
        "envelope_from": raw.envelope_from,
        "recipient": raw.recipient,
        "size": raw.size,
        "attempts": raw.attempts,
        "error": raw.error,
        "received_at": raw.received_at.isoformat(),
        "processed_at": raw.processed_at.isoformat() if raw.processed_at else None,
        "raw_url": f"/api/v1/mail/quarantine/{raw.id}/raw",
    }


def _positive_int(name: str, default: int | None, maximum: int) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise Invalid(
            f"Invalid query parameter: {name}.",
            code="invalid_fields",
            fields={name: "a positive whole number"},
        )
    return min(int(value), maximum)


def _slugs(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = get_session().execute(
        sa.select(Jurisdiction.id, Jurisdiction.slug).where(Jurisdiction.id.in_(sorted(ids)))
    )
    return {row[0]: row[1] for row in rows}


def _mine(raw_id: int, *, with_data: bool = False) -> RawEmail:
    raw = None
    if 1 <= raw_id <= MAX_ID:
        query = sa.select(RawEmail).where(
            RawEmail.id == raw_id, RawEmail.jurisdiction_id.in_(jurisdiction_ids())
        )
        if with_data:
            query = query.options(undefer(RawEmail.data))
        raw = get_session().scalars(query).one_or_none()
    if raw is None:
        raise NotFound(f"No message {raw_id}.", code="message_not_found")
    return raw


@bp.get("/mail/quarantine")
@require_staff(Role.SUPERVISOR)
def mail_quarantine_index() -> dict[str, Any]:
    """Newest first; ``next_cursor`` (pass it as ``cursor``) fetches the next page."""
    limit = _positive_int("limit", DEFAULT_LIMIT, MAX_LIMIT) or DEFAULT_LIMIT
    before = _positive_int("cursor", None, MAX_ID)
    rows = quarantined(get_session(), jurisdiction_ids(), limit=limit + 1, before_id=before)
    page = rows[:limit]
    slugs = _slugs({raw.jurisdiction_id for raw in page})
    return {
        "data": [_raw_json(raw, slugs.get(raw.jurisdiction_id, "")) for raw in page],
        "limit": limit,
        "next_cursor": str(page[-1].id) if len(rows) > limit else None,
    }


@bp.get("/mail/quarantine/<int:raw_id>/raw")
@require_staff(Role.SUPERVISOR)
def mail_quarantine_raw(raw_id: int) -> Response:
    """The message exactly as received, as a download (never shown inline)."""
    raw = _mine(raw_id, with_data=True)
    return Response(
        raw.data,
        mimetype="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{raw.id}.eml"'},
    )


@bp.post("/mail/quarantine/<int:raw_id>/retry")
@require_staff(Role.SUPERVISOR)
def mail_quarantine_retry(raw_id: int) -> dict[str, Any]:
    """Process a quarantined message again (after the cause was fixed)."""
    queue: QueueProcessing | None = current_app.extensions.get(QUEUE_PROCESSING)
    if queue is None:
        raise Unavailable("Email is not set up on this installation.", code="email_unavailable")
    session = get_session()
    raw = _mine(raw_id)
    release_for_retry(session, raw)
    queue(session, raw.id)
    session.commit()
    # Without Redis the processing ran inline on commit: answer with where it ended.
    session.refresh(raw)
    slug = _slugs({raw.jurisdiction_id}).get(raw.jurisdiction_id, "")
    return {"data": _raw_json(raw, slug)}
