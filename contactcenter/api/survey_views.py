"""Staff API for the satisfaction survey's settings, on the ``/api/v1`` blueprint.

Supervisors of a jurisdiction turn its surveys off, or off on one channel; another
jurisdiction's settings answer 404 like everything else of theirs.
"""

from __future__ import annotations

from typing import Any

from flask import request

from contactcenter.agents.models import Role
from contactcenter.api.views import bp
from contactcenter.auth import require_staff, staff_jurisdiction
from contactcenter.db import get_session
from contactcenter.errors import NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.surveys.settings import survey_settings, update_survey_settings


def _jurisdiction() -> Jurisdiction:
    slug = request.args.get("jurisdiction")
    if slug is not None and len(slug) > 64:
        raise NotFound("No such jurisdiction.", code="jurisdiction_not_found")
    return staff_jurisdiction(get_session(), slug)


@bp.get("/settings/surveys")
@require_staff(Role.SUPERVISOR)
def survey_settings_show() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    return {"jurisdiction": jurisdiction.slug, "data": survey_settings(jurisdiction).model_dump()}


@bp.put("/settings/surveys")
@require_staff(Role.SUPERVISOR)
def survey_settings_update() -> dict[str, Any]:
    """Replace the survey settings: on or off, and per channel."""
    body = request.get_json(silent=True)
    session = get_session()
    jurisdiction = _jurisdiction()
    settings = update_survey_settings(jurisdiction, body)
    session.commit()
    return {"jurisdiction": jurisdiction.slug, "data": settings.model_dump()}
