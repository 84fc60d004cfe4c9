"""Staff API for Open311: client keys, service attributes and published media.

Admins issue and revoke the API keys applications POST requests with, and define the
attributes (extra questions) of service types; agents may read those definitions;
supervisors choose the one photo of a case Open311 publishes. Everything is scoped to the
staff member's jurisdictions: another jurisdiction's client or case answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import request
from pydantic import Field
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.api.schemas import parse
from contactcenter.api.serializers import case_summary, iso_time
from contactcenter.api.views import bp
from contactcenter.auth import current_agent, jurisdiction_ids, require_staff, staff_jurisdiction
from contactcenter.cases.queries import lock_case
from contactcenter.db import get_session
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.jurisdictions.service import service_type_by_code
from contactcenter.open311.attributes import attribute_json, attributes_of, set_attributes
from contactcenter.open311.clients import (
    MAX_EMAIL,
    MAX_NAME,
    MAX_PER_MINUTE,
    issue_key,
    list_clients,
    revoke_key,
)
from contactcenter.open311.media import MAX_URL, publish_media, unpublish_media
from contactcenter.open311.models import Open311Client
from contactcenter.validation import StrictModel


class ClientRequest(StrictModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    contact_email: str = Field(default="", max_length=MAX_EMAIL)
    requests_per_minute: int = Field(default=60, ge=1, le=MAX_PER_MINUTE)
    jurisdiction: str | None = Field(default=None, max_length=64)


class PublicMediaRequest(StrictModel):
    url: str = Field(min_length=1, max_length=MAX_URL)


def _body() -> Any:
    return request.get_json(silent=True)


def _jurisdiction(slug: str | None = None) -> Jurisdiction:
    slug = slug or request.args.get("jurisdiction")
    if slug is not None and len(slug) > 64:
        raise NotFound("No such jurisdiction.", code="jurisdiction_not_found")
    return staff_jurisdiction(get_session(), slug)


def client_json(client: Open311Client, slugs: dict[int, str]) -> dict[str, Any]:
    """A client without its key (only the key's first characters, to tell keys apart)."""
    return {
        "id": client.id,
        "jurisdiction": slugs.get(client.jurisdiction_id),
        "name": client.name,
        "contact_email": client.contact_email,
        "key_prefix": client.key_prefix,
        "requests_per_minute": client.requests_per_minute,
        "created_at": iso_time(client.created_at),
        "last_used_at": iso_time(client.last_used_at),
        "revoked_at": iso_time(client.revoked_at),
    }


def _slugs() -> dict[int, str]:
    return {j.id: j.slug for j in current_agent().jurisdictions}


@bp.get("/open311/clients")
@require_staff(Role.ADMIN)
def open311_clients_index() -> dict[str, Any]:
    ids = [_jurisdiction().id] if request.args.get("jurisdiction") else jurisdiction_ids()
    slugs = _slugs()
    return {"data": [client_json(c, slugs) for c in list_clients(get_session(), ids)]}


@bp.post("/open311/clients")
@require_staff(Role.ADMIN)
def open311_clients_create() -> tuple[dict[str, Any], int]:
    """A new client; its ``api_key`` is in this answer and never again."""
    body = parse(ClientRequest, _body())
    session = get_session()
    client, key = issue_key(
        session,
        _jurisdiction(body.jurisdiction),
        name=body.name,
        contact_email=body.contact_email,
        requests_per_minute=body.requests_per_minute,
    )
    session.commit()
    return {"data": client_json(client, _slugs()), "api_key": key}, 201


@bp.post("/open311/clients/<int:client_id>/revoke")
@require_staff(Role.ADMIN)
def open311_clients_revoke(client_id: int) -> dict[str, Any]:
    session = get_session()
    client = revoke_key(session, jurisdiction_ids(), client_id)
    session.commit()
    return {"data": client_json(client, _slugs())}


def _service_type(session: Session, jurisdiction: Jurisdiction, code: str) -> ServiceType:
    found = service_type_by_code(session, jurisdiction.id, code, active_only=False)
    if found is None:
        raise NotFound(f"No service type {code[:64]!r}.", code="service_type_not_found")
    return found


def _attributes_json(jurisdiction: Jurisdiction, service_type: ServiceType) -> dict[str, Any]:
    attributes = attributes_of(get_session(), [service_type.id])[service_type.id]
    return {
        "jurisdiction": jurisdiction.slug,
        "service_type": service_type.code,
        "data": [attribute_json(a) for a in attributes],
    }


@bp.get("/service-types/<code>/attributes")
@require_staff()
def service_type_attributes_show(code: str) -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    return _attributes_json(jurisdiction, _service_type(get_session(), jurisdiction, code))


@bp.put("/service-types/<code>/attributes")
@require_staff(Role.ADMIN)
def service_type_attributes_replace(code: str) -> dict[str, Any]:
    """Replace the service type's attributes: ``{"attributes": [{code, datatype, ...}]}``."""
    body = _body()
    if not isinstance(body, dict) or set(body) != {"attributes"}:
        raise Invalid(
            'Expected {"attributes": [...]}.',
            code="invalid_body",
            fields={"attributes": "required, and nothing else"},
        )
    session = get_session()
    jurisdiction = _jurisdiction()
    service_type = _service_type(session, jurisdiction, code)
    set_attributes(session, service_type, body["attributes"])
    session.commit()
    return _attributes_json(jurisdiction, service_type)


@bp.put("/cases/<int:case_id>/public-media")
@require_staff(Role.SUPERVISOR)
def case_public_media_set(case_id: int) -> dict[str, Any]:
    """Publish ``url`` as the case's photo in Open311 (the only media ever published)."""
    body = parse(PublicMediaRequest, _body())
    session = get_session()
    case = lock_case(session, jurisdiction_ids(), case_id)
    publish_media(session, case, body.url, agent=current_agent())
    session.commit()
    return {"data": {**case_summary(case), "public_media_url": case.public_media_url}}


@bp.delete("/cases/<int:case_id>/public-media")
@require_staff(Role.SUPERVISOR)
def case_public_media_clear(case_id: int) -> dict[str, Any]:
    session = get_session()
    case = lock_case(session, jurisdiction_ids(), case_id)
    unpublish_media(session, case, agent=current_agent())
    session.commit()
    return {"data": {**case_summary(case), "public_media_url": case.public_media_url}}
