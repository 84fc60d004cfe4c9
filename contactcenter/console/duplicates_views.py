"""Case page duplicates (confirm, reject, link by hand) and resident merges and pages.

Every form re-reads its rows within the agent's jurisdictions: a posted tracking number or
resident of another city is "not found", never linked.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, joinedload, selectinload

from contactcenter.agents.models import Role
from contactcenter.auth import current_agent, jurisdiction_ids
from contactcenter.cases.duplicates import confirm_duplicate, mark_duplicate, reject_duplicate
from contactcenter.cases.models import Case, DuplicateStatus, Interaction
from contactcenter.cases.queries import MAX_ID, lock_case
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session
from contactcenter.errors import DomainError
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.residents.addresses import normalize_email, normalize_phone
from contactcenter.residents.merge import merge_history, merge_residents
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.tracking import find_in_text

MAX_TRACKING = 64
MAX_HISTORY = 100


@bp.context_processor
def _duplicate_helpers() -> dict[str, Any]:
    return {"DuplicateStatus": DuplicateStatus}


def _back(case_id: int) -> ResponseReturnValue:
    return redirect(url_for("console.case", case_id=case_id))


def _decide(case_id: int, action: str) -> ResponseReturnValue:
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    try:
        if action == "confirm":
            confirm_duplicate(db, found, current_agent())
            done = "Confirmed as a duplicate."
        else:
            reject_duplicate(db, found, current_agent())
            done = "Marked as not a duplicate."
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _back(case_id)
    db.commit()
    flash(done, "success")
    return _back(case_id)


@bp.post("/cases/<int:case_id>/duplicate/confirm")
@login_required()
def duplicate_confirm(case_id: int) -> ResponseReturnValue:
    return _decide(case_id, "confirm")


@bp.post("/cases/<int:case_id>/duplicate/reject")
@login_required()
def duplicate_reject(case_id: int) -> ResponseReturnValue:
    return _decide(case_id, "reject")


@bp.post("/cases/<int:case_id>/duplicate/link")
@login_required()
def duplicate_link(case_id: int) -> ResponseReturnValue:
    """Link by tracking number, looked up in the case's own jurisdiction only."""
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    typed = request.form.get("parent", "").strip()[:MAX_TRACKING]
    wanted = find_in_text(typed) or typed
    parent = (
        db.scalars(
            sa.select(Case).where(
                Case.tracking_number == wanted, Case.jurisdiction_id == found.jurisdiction_id
            )
        ).one_or_none()
        if wanted
        else None
    )
    if parent is None:
        flash("No case with that tracking number in this city.", "error")
        return _back(case_id)
    try:
        mark_duplicate(db, found, parent, current_agent())
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _back(case_id)
    db.commit()
    flash(f"Linked as a duplicate of {parent.tracking_number}.", "success")
    return _back(case_id)


def _resident(db: Session, resident_id: int) -> Resident:
    """A resident of the agent's jurisdictions; any other answers 404."""
    if not 1 <= resident_id <= MAX_ID:
        abort(404)
    query = sa.select(Resident).where(
        Resident.id == resident_id, Resident.jurisdiction_id.in_(jurisdiction_ids())
    )
    found = db.scalars(query).one_or_none()
    if found is None:
        abort(404)
    return found


def _find_other(db: Session, keep: Resident, raw: str) -> Resident | None:
    """The resident named by id, phone or email, in ``keep``'s jurisdiction only."""
    raw = raw.strip()[:320]
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 9:
        by_id = int(raw)
        if not 1 <= by_id <= MAX_ID:
            return None
        return db.scalars(
            sa.select(Resident).where(
                Resident.id == by_id, Resident.jurisdiction_id == keep.jurisdiction_id
            )
        ).one_or_none()
    if "@" in raw:
        address = normalize_email(raw).address
    else:
        address = normalize_phone(
            raw, _jurisdiction_value(db, keep, Jurisdiction.country) or "US"
        ).address
    return db.scalars(
        sa.select(Resident)
        .join(ContactPoint, ContactPoint.resident_id == Resident.id)
        .where(
            ContactPoint.address == address,
            ContactPoint.jurisdiction_id == keep.jurisdiction_id,
            Resident.jurisdiction_id == keep.jurisdiction_id,
        )
        .limit(1)
    ).one_or_none()


def _jurisdiction_value(
    db: Session, resident: Resident, column: sa.orm.InstrumentedAttribute[str]
) -> str | None:
    """One setting of the resident's jurisdiction (its country, its time zone)."""
    return db.scalar(sa.select(column).where(Jurisdiction.id == resident.jurisdiction_id))


@bp.post("/residents/<int:resident_id>/merge")
@login_required(Role.SUPERVISOR)
def resident_merge(resident_id: int) -> ResponseReturnValue:
    """Merge another resident (by id, phone or email) into this one; supervisors only."""
    db = get_session()
    keep = _resident(db, resident_id)  # merge_residents locks both, in id order
    back = request.form.get("case_id", "")
    target = (
        url_for("console.case", case_id=int(back))
        if back.isascii() and back.isdigit() and len(back) <= 9
        else url_for("console.resident", resident_id=resident_id)
    )
    other = _find_other(db, keep, request.form.get("other", ""))
    if other is None:
        flash("No resident with that id, phone or email in this city.", "error")
        return redirect(target)
    try:
        audit = merge_residents(db, keep, other, current_agent())
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(target)
    db.commit()
    flash(
        f"Resident #{audit.merged_id} merged into #{audit.kept_id}: "
        f"{len(audit.moved['cases'])} cases moved.",
        "success",
    )
    return redirect(target)


@bp.get("/residents/<int:resident_id>")
@login_required()
def resident(resident_id: int) -> ResponseReturnValue:
    """A resident, their contact points, cases, interactions on every channel, merges."""
    db = get_session()
    found = _resident(db, resident_id)
    cases = db.scalars(
        sa.select(Case)
        .where(Case.resident_id == found.id, Case.jurisdiction_id == found.jurisdiction_id)
        .options(selectinload(Case.service_type))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(100)
    ).all()
    interactions = db.scalars(
        sa.select(Interaction)
        .where(
            Interaction.resident_id == found.id,
            Interaction.jurisdiction_id == found.jurisdiction_id,
        )
        .options(joinedload(Interaction.case))
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        .limit(MAX_HISTORY)
    ).all()
    return render_template(
        "console/resident.html",
        resident=found,
        cases=cases,
        interactions=interactions,
        max_history=MAX_HISTORY,
        history=merge_history(db, found),
        timezone=_jurisdiction_value(db, found, Jurisdiction.timezone) or "UTC",
    )
