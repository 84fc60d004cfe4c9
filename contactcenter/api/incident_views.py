"""Staff API for duplicates, incidents and detection settings, on the ``/api/v1`` blueprint.

Agents confirm, reject or make duplicate links and see active incidents; supervisors resolve
incidents and write what callers are told about them; admins tune detection. Everything is
scoped to the staff member's jurisdictions: another jurisdiction's case or incident is 404.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from flask import request
from pydantic import Field
from sqlalchemy.orm import Session

from contactcenter import tracking
from contactcenter.agents.models import Role
from contactcenter.api.schemas import parse
from contactcenter.api.serializers import case_summary, iso_time
from contactcenter.api.views import bp
from contactcenter.auth import current_agent, jurisdiction_ids, require_staff, staff_jurisdiction
from contactcenter.cases.duplicates import (
    MAX_ANNOUNCEMENT,
    active_incidents,
    confirm_duplicate,
    mark_duplicate,
    reject_duplicate,
    resolve_incident,
    set_announcement,
)
from contactcenter.cases.models import Case, Incident
from contactcenter.cases.queries import get_case
from contactcenter.chats.settings import chat_settings, update_chat_settings
from contactcenter.db import get_session
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.settings import (
    DetectionSettings,
    detection_settings,
    update_detection_settings,
)
from contactcenter.validation import StrictModel


class DuplicateAction(StrictModel):
    action: Literal["confirm", "reject", "link"]
    parent: str | None = Field(default=None, min_length=1, max_length=16)
    """The tracking number of the parent case; only for ``link``."""


class AnnouncementRequest(StrictModel):
    text: str = Field(max_length=MAX_ANNOUNCEMENT)


def _body() -> Any:
    return request.get_json(silent=True)


def _locked(session: Session, case_id: int) -> Case:
    """The case, row-locked and re-read (it may have been loaded before the lock was taken)."""
    case = session.scalars(
        sa.select(Case)
        .where(Case.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return case


def _parent_by_tracking(session: Session, case: Case, tracking_number: str) -> Case:
    """The case's parent named by tracking number, as staff type it ("1234-5678", "12345678")."""
    digits = "".join(ch for ch in tracking_number if ch not in " .-")
    parent_id = None
    if tracking.is_valid(digits):
        parent_id = session.scalar(
            sa.select(Case.id).where(
                Case.jurisdiction_id == case.jurisdiction_id,
                Case.tracking_number == tracking.format_number(digits),
            )
        )
    if parent_id is None:
        raise Invalid(
            f"No case {tracking_number}.",
            code="parent_not_found",
            fields={"parent": "no case with this tracking number"},
        )
    return _locked(session, parent_id)


def _duplicate_json(case: Case) -> dict[str, Any]:
    """The case with its duplicate and incident links (the case list does not carry them)."""
    parent = case.duplicate_of
    return {
        **case_summary(case),
        "duplicate_of": parent.tracking_number if parent is not None else None,
        "duplicate_status": str(case.duplicate_status) if case.duplicate_status else None,
        "incident_id": case.incident_id,
    }


def _incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "status": str(incident.status),
        "service_type": incident.service_type.as_dict() if incident.service_type else None,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "radius_m": incident.radius_m,
        "case_count": incident.case_count,
        "announcement": incident.announcement,
        "created_at": incident.created_at.isoformat(),
        "resolved_at": iso_time(incident.resolved_at),
    }


@bp.post("/cases/<int:case_id>/duplicate")
@require_staff()
def case_duplicate(case_id: int) -> dict[str, Any]:
    """Confirm, reject or make a duplicate link.

    Rows are locked parent first, then the case: the order a parent's status change locks
    them in (see ``follow_parent``), so the two cannot deadlock, and a duplicate confirmed
    while its parent is being closed sees the closed parent and follows it.
    """
    body = parse(DuplicateAction, _body())
    if (body.action == "link") != (body.parent is not None):
        fields = {"parent": "required to link" if body.action == "link" else "only for link"}
        raise Invalid("Name the parent case only to link.", code="invalid_fields", fields=fields)
    session = get_session()
    agent = current_agent()
    case = get_case(session, jurisdiction_ids(), case_id)
    if body.parent is not None:
        parent = _parent_by_tracking(session, case, body.parent)
        case = _locked(session, case.id)
        mark_duplicate(session, case, parent, agent)
    else:
        if case.duplicate_of_id is not None:
            _locked(session, case.duplicate_of_id)
        case = _locked(session, case.id)
        if body.action == "confirm":
            confirm_duplicate(session, case, agent)
        else:
            reject_duplicate(session, case, agent)
    session.commit()
    return {"data": _duplicate_json(case)}


@bp.get("/incidents")
@require_staff()
def incidents_index() -> dict[str, Any]:
    incidents = active_incidents(get_session(), jurisdiction_ids())
    return {"data": [_incident_json(i) for i in incidents]}


@bp.post("/incidents/<int:incident_id>/resolve")
@require_staff(Role.SUPERVISOR)
def incident_resolve(incident_id: int) -> dict[str, Any]:
    session = get_session()
    incident = resolve_incident(session, jurisdiction_ids(), incident_id, current_agent())
    session.commit()
    return {"data": _incident_json(incident)}


@bp.put("/incidents/<int:incident_id>/announcement")
@require_staff(Role.SUPERVISOR)
def incident_announcement(incident_id: int) -> dict[str, Any]:
    body = parse(AnnouncementRequest, _body())
    session = get_session()
    incident = set_announcement(
        session, jurisdiction_ids(), incident_id, body.text, current_agent()
    )
    session.commit()
    return {"data": _incident_json(incident)}


def _settings_json(jurisdiction: Jurisdiction, settings: DetectionSettings) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction.slug, "data": settings.model_dump()}


def _jurisdiction() -> Jurisdiction:
    slug = request.args.get("jurisdiction")
    if slug is not None and len(slug) > 64:
        raise NotFound("No such jurisdiction.", code="jurisdiction_not_found")
    return staff_jurisdiction(get_session(), slug)


@bp.get("/settings/detection")
@require_staff(Role.ADMIN)
def detection_settings_show() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    return _settings_json(jurisdiction, detection_settings(jurisdiction))


@bp.patch("/settings/detection")
@require_staff(Role.ADMIN)
def detection_settings_update() -> dict[str, Any]:
    body = _body()
    if not isinstance(body, dict):
        raise Invalid("Expected a JSON object of settings.", code="invalid_body")
    session = get_session()
    jurisdiction = _jurisdiction()
    settings = update_detection_settings(jurisdiction, body)
    session.commit()
    return _settings_json(jurisdiction, settings)


@bp.get("/settings/chat")
@require_staff(Role.SUPERVISOR)
def chat_settings_show() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    return {"jurisdiction": jurisdiction.slug, "data": chat_settings(jurisdiction).model_dump()}


@bp.put("/settings/chat")
@require_staff(Role.SUPERVISOR)
def chat_settings_update() -> dict[str, Any]:
    """Replace the web chat settings: the origins that may embed the chat, its hours."""
    body = _body()
    session = get_session()
    jurisdiction = _jurisdiction()
    settings = update_chat_settings(jurisdiction, body)
    session.commit()
    return {"jurisdiction": jurisdiction.slug, "data": settings.model_dump()}
