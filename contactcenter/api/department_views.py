"""Staff API for the jurisdiction's departments (``/api/v1/departments``): who heads each.

Supervisors and admins of a jurisdiction name each department's head, whose address receives
the department's weekly performance summary; another jurisdiction's departments answer 404 like
everything else of theirs.
"""

from __future__ import annotations

from typing import Any

from flask import request
from pydantic import Field, field_validator

from contactcenter.agents.models import Role
from contactcenter.api import schemas
from contactcenter.api.views import bp
from contactcenter.auth import require_staff, staff_jurisdiction
from contactcenter.db import get_session
from contactcenter.errors import NotFound
from contactcenter.jurisdictions.departments import list_departments, set_department_head
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.residents.addresses import normalize_email
from contactcenter.validation import StrictModel

MAX_EMAIL = 320
_NOT_IN_ADDRESS = frozenset(' \t\r\n,;<>()[]\\"')
"""Characters that make a header hold several addresses, or something else than one."""


class DepartmentPatch(StrictModel):
    head_email: str = Field(max_length=MAX_EMAIL)
    """Where the weekly summary goes; "" for no head (no summary)."""

    @field_validator("head_email")
    @classmethod
    def _one_address(cls, value: str) -> str:
        """One plain address (``name@host.tld``), stored lower-case as the mail module does."""
        if not value:
            return value
        address = normalize_email(value)
        if (
            not address.is_valid
            or address.address.count("@") != 1
            or any(c in _NOT_IN_ADDRESS or ord(c) < 32 for c in address.address)
        ):
            raise ValueError("not an email address: write one address, e.g. roads@city.example")
        return address.address


def department_json(department: Department) -> dict[str, Any]:
    return {
        "code": department.code,
        "name": department.name,
        "is_default": department.is_default,
        "head_email": department.head_email,
    }


def _jurisdiction() -> Jurisdiction:
    slug = request.args.get("jurisdiction")
    if slug is not None and len(slug) > 64:
        raise NotFound("No such jurisdiction.", code="jurisdiction_not_found")
    return staff_jurisdiction(get_session(), slug)


@bp.get("/departments")
@require_staff(Role.SUPERVISOR)
def departments_index() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    departments = list_departments(get_session(), jurisdiction)
    return {"jurisdiction": jurisdiction.slug, "data": [department_json(d) for d in departments]}


@bp.patch("/departments/<code>")
@require_staff(Role.SUPERVISOR)
def department_update(code: str) -> dict[str, Any]:
    """Name (or, with "", remove) the department's head."""
    session = get_session()
    jurisdiction = _jurisdiction()
    body = schemas.parse(DepartmentPatch, request.get_json(silent=True))
    department = set_department_head(session, jurisdiction, code, body.head_email)
    session.commit()
    return {"jurisdiction": jurisdiction.slug, "data": department_json(department)}
