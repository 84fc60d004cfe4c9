"""The supervisors' wallboard page, its live fragment, and their actions on agents and work.

The page and the fragment render the same figures (:mod:`contactcenter.console.wallboard`);
``wallboard.js`` refetches the fragment when the socket says the board changed. Every action
posts, commits once and redirects back to the board, like the rest of the console.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.auth import current_agent, staff_jurisdiction
from contactcenter.cases.queries import MAX_ID
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.console.views import waited
from contactcenter.console.wallboard import CALL_TARGET_SECONDS, EXPIRING_WITHIN, wallboard
from contactcenter.db import get_session, utcnow
from contactcenter.errors import DomainError, Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.routing.models import WorkItem
from contactcenter.routing.presence import set_presence
from contactcenter.routing.reassign import reassign_work, works_for


def _board_context(jurisdiction: Jurisdiction) -> dict[str, object]:
    now = utcnow()
    return {
        "jurisdiction": jurisdiction,
        "board": wallboard(get_session(), jurisdiction, now),
        "presences": list(Presence),
        "timezone": jurisdiction.timezone,
        "expiring_seconds": int(EXPIRING_WITHIN.total_seconds()),
        "target_seconds": CALL_TARGET_SECONDS,
        "now": now,
        "duration": lambda seconds: waited(now - dt.timedelta(seconds=seconds), now),
    }


def _back(jurisdiction: Jurisdiction) -> ResponseReturnValue:
    return redirect(url_for("console.wallboard_page", jurisdiction=jurisdiction.slug))


@bp.get("/wallboard")
@login_required(Role.SUPERVISOR)
def wallboard_page() -> ResponseReturnValue:
    """The board of one jurisdiction; a supervisor of several first picks which."""
    try:
        jurisdiction = staff_jurisdiction(get_session(), request.args.get("jurisdiction"))
    except Invalid:
        choices = sorted(current_agent().jurisdictions, key=lambda j: j.name)
        return render_template("console/wallboard_pick.html", active="wallboard", choices=choices)
    return render_template(
        "console/wallboard.html", active="wallboard", **_board_context(jurisdiction)
    )


@bp.get("/wallboard/board")
@login_required(Role.SUPERVISOR, fragment=True)
def wallboard_fragment() -> ResponseReturnValue:
    """Just the figures (the inside of ``#board``), for the page's script to swap in."""
    try:
        jurisdiction = staff_jurisdiction(get_session(), request.args.get("jurisdiction"))
    except DomainError as exc:
        return Response("", status=exc.status)
    return render_template("console/_board.html", **_board_context(jurisdiction))


def _member(agent_id: int, jurisdiction: Jurisdiction) -> Agent:
    """An agent of ``jurisdiction``; any other is, to this supervisor, not there at all."""
    db = get_session()
    agent = db.get(Agent, agent_id) if 1 <= agent_id <= MAX_ID else None
    if agent is None or not works_for(db, agent, jurisdiction.id):
        raise NotFound("No such agent.", code="agent_not_found")
    return agent


@bp.post("/wallboard/agents/<int:agent_id>/presence")
@login_required(Role.SUPERVISOR)
def wallboard_presence(agent_id: int) -> ResponseReturnValue:
    db = get_session()
    jurisdiction = staff_jurisdiction(db, request.form.get("jurisdiction"))
    agent = _member(agent_id, jurisdiction)
    try:
        chosen = Presence(request.form.get("presence", ""))
    except ValueError:
        flash("Choose available, busy, away or offline.", "error")
        return _back(jurisdiction)
    set_presence(db, agent, chosen, by=current_agent(), reason="set by supervisor")
    db.commit()
    flash(f"{agent.name} is now {chosen}.", "success")
    return _back(jurisdiction)


@bp.post("/wallboard/work/<int:item_id>/reassign")
@login_required(Role.SUPERVISOR)
def wallboard_reassign(item_id: int) -> ResponseReturnValue:
    db = get_session()
    jurisdiction = staff_jurisdiction(db, request.form.get("jurisdiction"))
    item = db.get(WorkItem, item_id) if 1 <= item_id <= MAX_ID else None
    if item is None or item.jurisdiction_id != jurisdiction.id:
        raise NotFound("No such work.", code="work_not_found")
    try:
        raw = request.form.get("agent_id", "")
        to_agent = _member(int(raw) if raw.isascii() and raw.isdigit() else 0, jurisdiction)
    except (ValueError, NotFound):
        db.rollback()
        flash("Choose an agent of this jurisdiction.", "error")
        return _back(jurisdiction)
    try:
        reassign_work(db, item, to_agent, by=current_agent())
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _back(jurisdiction)
    db.commit()
    flash(f"The work is now {to_agent.name}'s.", "success")
    return _back(jurisdiction)
