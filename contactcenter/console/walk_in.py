"""Console intake: an agent records a case for a resident at the counter or on the phone.

Step one finds the resident by phone or email (so nobody is recorded twice); step two is the
case itself. A refusal re-renders the form with what to fix, never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, selectinload

from contactcenter.agents.models import Agent
from contactcenter.auth import current_agent
from contactcenter.cases.search import MAX_QUERY, find_residents, is_contact, recent_cases
from contactcenter.cases.walk_in import (
    CHANNELS,
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_NAME,
    record_walk_in,
)
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session
from contactcenter.errors import DomainError, Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import active_service_types
from contactcenter.messages import Channel
from contactcenter.residents.models import Resident

FORM_FIELDS = ("name", "phone", "email", "service_type", "description", "address", "channel")


def _my_jurisdiction(agent: Agent, slug: str | None) -> Jurisdiction | None:
    """The jurisdiction the agent is recording for: their only one, or the one they chose."""
    mine = agent.jurisdictions
    if len(mine) == 1 and not slug:
        return mine[0]
    return next((j for j in mine if j.slug == slug), None)


def _resident(db: Session, jurisdiction: Jurisdiction | None, raw_id: str) -> Resident | None:
    """The picked resident, only if they are on this jurisdiction's records."""
    if jurisdiction is None or not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 9:
        return None
    return db.scalars(
        sa.select(Resident)
        .where(Resident.id == int(raw_id), Resident.jurisdiction_id == jurisdiction.id)
        .options(selectinload(Resident.contact_points))
    ).one_or_none()


def _render(
    db: Session,
    agent: Agent,
    jurisdiction: Jurisdiction | None,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str = "",
    resident: Resident | None = None,
    lookup: str = "",
    found: Sequence[Resident] = (),
    recent: dict[int, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    service_types = active_service_types(db, jurisdiction.id) if jurisdiction else []
    page = render_template(
        "console/intake.html",
        active="intake",
        jurisdictions=agent.jurisdictions,
        jurisdiction=jurisdiction,
        service_types=service_types,
        channels=CHANNELS,
        values=values,
        errors=errors or {},
        message=message,
        resident=resident,
        lookup=lookup,
        found=found,
        recent=recent or {},
        max_description=MAX_DESCRIPTION,
        max_address=MAX_ADDRESS,
        max_name=MAX_NAME,
        max_lookup=MAX_QUERY,
    )
    return page, status


@bp.get("/intake")
@login_required()
def intake() -> ResponseReturnValue:
    db = get_session()
    agent = current_agent()
    jurisdiction = _my_jurisdiction(agent, request.args.get("jurisdiction"))
    lookup = request.args.get("lookup", "").strip()[:MAX_QUERY]
    values = {"channel": str(Channel.WALK_IN)}
    errors: dict[str, str] = {}
    found: Sequence[Resident] = ()
    if lookup and jurisdiction is not None:
        if is_contact(lookup):
            found = find_residents(db, [jurisdiction.id], lookup)
            values["email" if "@" in lookup else "phone"] = lookup
        else:
            errors["lookup"] = "Type a phone number or an email address."
    resident = _resident(db, jurisdiction, request.args.get("resident", ""))
    return _render(
        db,
        agent,
        jurisdiction,
        values=values,
        errors=errors,
        resident=resident,
        lookup=lookup,
        found=found,
        recent=recent_cases(db, found),
    )


@bp.post("/intake")
@login_required()
def intake_submit() -> ResponseReturnValue:
    db = get_session()
    agent = current_agent()
    values = {key: request.form.get(key, "") for key in FORM_FIELDS}
    slug = request.form.get("jurisdiction", "")
    jurisdiction = db.scalars(
        sa.select(Jurisdiction).where(Jurisdiction.slug == slug[:64])
    ).one_or_none()
    mine = _my_jurisdiction(agent, slug)
    raw_resident = request.form.get("resident_id", "")
    resident = _resident(db, mine, raw_resident)
    try:
        if jurisdiction is None:
            raise Invalid("Choose a jurisdiction.", fields={"jurisdiction": "Choose one."})
        if raw_resident and resident is None and mine is not None:
            raise Invalid("Find the resident again.", fields={"resident": "Not found."})
        case = record_walk_in(
            db,
            agent,
            jurisdiction,
            resident=resident,
            phone=values["phone"],
            email=values["email"],
            name=values["name"],
            service_type=values["service_type"],
            description=values["description"],
            address=values["address"],
            channel=values["channel"],
        )
        db.flush()
    except DomainError as exc:
        db.rollback()
        shown = mine or _my_jurisdiction(agent, None)
        return _render(
            db,
            agent,
            shown,
            values=values,
            errors={str(k): str(v) for k, v in exc.fields.items()},
            message=exc.message,
            resident=_resident(db, shown, raw_resident),
            status=exc.status,
        )
    db.commit()
    flash(f"Case {case.tracking_number} is open and routed.", "success")
    return redirect(url_for("console.case", case_id=case.id))
