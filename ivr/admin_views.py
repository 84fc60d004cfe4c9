"""Staff API for the voice menu (``/api/v1/ivr``): read it, check a draft, make one live.

Any staff member of a jurisdiction may read and check its menu; supervisors load a new
version, which calls get at once. A menu with problems is refused whole, every problem
listed, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict

from contactcenter.agents.models import Role
from contactcenter.api import schemas
from contactcenter.auth import current_agent, require_staff, staff_jurisdiction
from contactcenter.calls.models import IvrMenu
from contactcenter.db import get_session
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from ivr.menu_store import check_menu, install_menu, live_menu, menu_versions

bp = Blueprint("ivr_admin", __name__, url_prefix="/api/v1/ivr")

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/plain"})
"""Content types under which the body is the menu file itself rather than JSON."""


class MenuBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    """The menu file's text, YAML or JSON."""


def _jurisdiction() -> Jurisdiction:
    return staff_jurisdiction(get_session(), request.args.get("jurisdiction"))


def _source() -> str:
    """The menu file from the body: raw YAML, or JSON ``{"source": "..."}``."""
    if request.mimetype in YAML_TYPES:
        try:
            return request.get_data().decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("The menu file must be UTF-8 text.", code="invalid_body") from None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid(
            'Send JSON {"source": "<menu file>"}, or the file itself as application/yaml.',
            code="invalid_body",
        )
    return schemas.parse(MenuBody, body).source


def _version_json(row: IvrMenu) -> dict[str, Any]:
    return {
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by_agent_id,
    }


def _menu_json(row: IvrMenu) -> dict[str, Any]:
    return {**_version_json(row), "definition": row.definition, "source": row.source}


@bp.get("/menu")
@require_staff()
def menu_show() -> dict[str, Any]:
    row = live_menu(get_session(), _jurisdiction().id)
    if row is None:
        raise NotFound("This jurisdiction has no voice menu yet.", code="menu_not_found")
    return {"data": _menu_json(row)}


@bp.get("/menu/versions")
@require_staff()
def menu_versions_index() -> dict[str, Any]:
    rows = menu_versions(get_session(), _jurisdiction().id)
    return {"data": [_version_json(row) for row in rows]}


@bp.put("/menu")
@require_staff(Role.SUPERVISOR)
def menu_save() -> dict[str, Any]:
    session = get_session()
    jurisdiction = _jurisdiction()
    row = install_menu(session, jurisdiction, _source(), agent=current_agent())
    session.commit()
    return {"data": _menu_json(row)}


@bp.post("/menu/check")
@require_staff()
def menu_check() -> dict[str, Any]:
    problems = check_menu(get_session(), _jurisdiction(), _source())
    return {"ok": not problems, "problems": problems}
