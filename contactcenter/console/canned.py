"""Supervisors keep their jurisdictions' canned responses: list, add, delete."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from contactcenter.agents.models import Role
from contactcenter.auth import current_agent, jurisdiction_ids
from contactcenter.cases.canned import (
    MAX_CANNED_BODY,
    MAX_TITLE,
    PLACEHOLDERS,
    add_canned,
    get_canned,
    list_canned,
)
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session
from contactcenter.errors import DomainError


@bp.get("/canned")
@login_required(Role.SUPERVISOR)
def canned_list() -> ResponseReturnValue:
    jurisdictions = current_agent().jurisdictions
    return render_template(
        "console/canned.html",
        active="canned",
        responses=list_canned(get_session(), jurisdiction_ids()),
        jurisdictions=jurisdictions,
        names={j.id: j.name for j in jurisdictions},
        languages=sorted({lang for j in jurisdictions for lang in j.languages}),
        placeholders=PLACEHOLDERS,
        max_title=MAX_TITLE,
        max_body=MAX_CANNED_BODY,
    )


@bp.post("/canned")
@login_required(Role.SUPERVISOR)
def canned_add() -> ResponseReturnValue:
    mine = jurisdiction_ids()
    raw = request.form.get("jurisdiction", "")
    jurisdiction_id = (
        int(raw)
        if raw.isascii() and raw.isdigit() and len(raw) <= 9
        else (mine[0] if len(mine) == 1 else None)
    )
    if jurisdiction_id not in mine:
        flash("Choose one of your jurisdictions.", "error")
        return redirect(url_for("console.canned_list"))
    db = get_session()
    try:
        canned = add_canned(
            db,
            jurisdiction_id,
            title=request.form.get("title", ""),
            body=request.form.get("body", ""),
            language=request.form.get("language", ""),
        )
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("console.canned_list"))
    db.commit()
    flash(f'Saved "{canned.title}" ({canned.language}).', "success")
    return redirect(url_for("console.canned_list"))


@bp.post("/canned/<int:canned_id>/delete")
@login_required(Role.SUPERVISOR)
def canned_delete(canned_id: int) -> ResponseReturnValue:
    db = get_session()
    canned = get_canned(db, jurisdiction_ids(), canned_id)
    db.delete(canned)
    db.commit()
    flash(f'Deleted "{canned.title}" ({canned.language}).', "success")
    return redirect(url_for("console.canned_list"))
