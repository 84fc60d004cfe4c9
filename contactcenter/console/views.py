"""Console pages: sign-in, the agent's work (presence, offers, assigned work) and a case.

Each form posts, one service runs, the request commits once and redirects back (so a reload
never sends a form twice); a refusal the agent can act on is a flash message, never a 500.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session, contains_eager, joinedload
from werkzeug.exceptions import HTTPException

from contactcenter.agents.models import Agent, Presence
from contactcenter.auth import current_agent, jurisdiction_ids
from contactcenter.calls.models import Call
from contactcenter.calls.queueing import work_assigned
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, Interaction
from contactcenter.cases.queries import case_timeline, get_case, lock_case
from contactcenter.cases.service import TRANSITIONS, add_note, change_status
from contactcenter.chats.service import end_chats_of_case, live_chat_of_case
from contactcenter.chats.service import work_assigned as chat_assigned
from contactcenter.console import bp
from contactcenter.console.auth import (
    SIGN_IN_REFUSED,
    SignInRefused,
    login_required,
    safe_next,
    sign_in,
    signed_in_agent,
    start_session,
)
from contactcenter.db import get_session, utcnow
from contactcenter.errors import DomainError, Invalid
from contactcenter.messages import Channel
from contactcenter.outbound import (
    MAX_BODY,
    ReplyTarget,
    reply_route,
    reply_targets,
    reply_to_contact,
    reply_to_resident,
)
from contactcenter.realtime import SIGNED_OUT, notify_agent_after_commit
from contactcenter.routing.models import PRIORITY_RANK, Offer, OfferState, WorkItem, WorkState
from contactcenter.routing.presence import set_presence
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.work import accept_offer, decline_offer
from contactcenter.sla.models import CaseClock

log = logging.getLogger(__name__)

MAX_NOTE = 10000
MAX_STATUS_NOTE = 4000
PRIORITY_NAME = {rank: name for name, rank in PRIORITY_RANK.items()}


# --- Page furniture ---------------------------------------------------------------------------


@bp.after_request
def _private_pages(response: Response) -> Response:
    """Pages show residents' words: never cached, never framed (clickjacking)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "waited": waited,
        "local_time": local_time,
        "priority_label": priority_label,
        "label": label,
    }


def waited(since: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "45 s", "12 min", "2 h 5 min": how long something has waited, for a glance."""
    seconds = max(0, int(((now or utcnow()) - since).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


def local_time(value: dt.datetime | None, timezone: str = "UTC") -> str:
    """A time as the jurisdiction's staff read it."""
    if value is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def priority_label(item: WorkItem) -> str:
    if item.case is not None:
        return str(item.case.priority)
    return PRIORITY_NAME.get(item.priority, str(item.priority))


def label(value: object) -> str:
    """``in_progress`` -> ``in progress``."""
    return str(value).replace("_", " ")


@bp.errorhandler(CSRFError)
def _csrf_error(_exc: CSRFError) -> ResponseReturnValue:
    message = "This form has expired. Reload the page and try again."
    return render_template("console/error.html", title="Form expired", message=message), 400


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> ResponseReturnValue:
    return render_template("console/error.html", title="Not possible", message=exc.message), (
        exc.status
    )


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    title = exc.name or "Error"
    return render_template("console/error.html", title=title, message=exc.description), (
        exc.code or 500
    )


# --- Sign in and out --------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        if signed_in_agent() is not None:
            return redirect(next_path or url_for("console.work"))
        return render_template("console/login.html", next=next_path, email="", error=None)
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")[:1024]
    db = get_session()
    try:
        agent = sign_in(db, email, password)
    except SignInRefused:
        db.commit()  # the failure counts towards the lock-out
        return render_template(
            "console/login.html", next=next_path, email=email, error=SIGN_IN_REFUSED
        )
    db.commit()
    start_session(agent)
    return redirect(next_path or url_for("console.work"))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out everywhere: the agent's cookies stop working and their open consoles close."""
    agent = signed_in_agent()
    if agent is not None:
        db = get_session()
        db.execute(
            sa.update(Agent)
            .where(Agent.id == agent.id)
            .values(session_epoch=Agent.session_epoch + 1)
        )
        notify_agent_after_commit(db, agent.id, SIGNED_OUT, {"agent_id": agent.id})
        db.commit()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("console.login"))


# --- Work: presence, offers, assigned work ----------------------------------------------------


def pending_offers(db: Session, agent: Agent, offer_id: int | None = None) -> Sequence[Offer]:
    """The agent's offers still open to them, oldest first (one query)."""
    query = (
        sa.select(Offer)
        .where(
            Offer.agent_id == agent.id,
            Offer.state == OfferState.PENDING,
            Offer.expires_at > utcnow(),
            Offer.jurisdiction_id.in_(jurisdiction_ids()),
        )
        .options(
            joinedload(Offer.work_item).joinedload(WorkItem.case).joinedload(Case.service_type)
        )
        .order_by(Offer.created_at, Offer.id)
        .limit(100)
    )
    if offer_id is not None:
        query = query.where(Offer.id == offer_id)
    return db.scalars(query).unique().all()


def assigned_work(db: Session, agent: Agent) -> Sequence[sa.Row[tuple[WorkItem, Any]]]:
    """(work item, SLA due) the agent holds: most urgent first, then the nearest deadline."""
    due = sa.func.coalesce(
        sa.case(
            (CaseClock.first_response_at.is_(None), CaseClock.first_response_due_at),
            else_=CaseClock.resolution_due_at,
        ),
        Case.due_at,
    )
    return db.execute(
        sa.select(WorkItem, due)
        .outerjoin(Case, Case.id == WorkItem.case_id)
        .outerjoin(CaseClock, CaseClock.case_id == WorkItem.case_id)
        .where(
            WorkItem.agent_id == agent.id,
            WorkItem.state == WorkState.ASSIGNED,
            WorkItem.jurisdiction_id.in_(jurisdiction_ids()),
        )
        .options(contains_eager(WorkItem.case).joinedload(Case.service_type))
        .order_by(WorkItem.priority.desc(), due.asc().nulls_last(), WorkItem.assigned_at)
        .limit(200)
    ).all()


def _timezone(agent: Agent) -> str:
    return agent.jurisdictions[0].timezone if agent.jurisdictions else "UTC"


@bp.get("/")
@login_required()
def work() -> ResponseReturnValue:
    db = get_session()
    agent = current_agent()
    return render_template(
        "console/work.html",
        active="work",
        presences=list(Presence),
        offers=pending_offers(db, agent),
        work_rows=assigned_work(db, agent),
        timezone=_timezone(agent),
        now=utcnow(),
    )


@bp.get("/offers/<int:offer_id>")
@login_required(fragment=True)
def offer_fragment(offer_id: int) -> ResponseReturnValue:
    """One offer's ``<li>`` alone, for the page's script to insert; 404 once it is gone."""
    offers = pending_offers(get_session(), current_agent(), offer_id)
    if not offers:
        return Response("", status=404)
    return render_template("console/_offer.html", offer=offers[0], now=utcnow())


@bp.post("/presence")
@login_required()
def presence() -> ResponseReturnValue:
    try:
        chosen = Presence(request.form.get("presence", ""))
    except ValueError:
        flash("Choose available, busy, away or offline.", "error")
        return redirect(url_for("console.work"))
    db = get_session()
    agent = current_agent()
    set_presence(db, agent, chosen)  # becoming available schedules a dispatch
    db.commit()
    flash(f"You are now {chosen}.", "success")
    return redirect(url_for("console.work"))


@bp.post("/offers/<int:offer_id>/accept")
@login_required()
def offer_accept(offer_id: int) -> ResponseReturnValue:
    db = get_session()
    agent = current_agent()
    try:
        item = accept_offer(db, offer_id, agent)
        work_assigned(db, item, agent)  # a call: ring the agent once this commits
        chat_assigned(db, item, agent)  # a chat: the resident hears who joined
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("console.work"))
    db.commit()
    if item.case_id is None:
        flash("The work is yours.", "success")
        return redirect(url_for("console.work"))
    return redirect(url_for("console.case", case_id=item.case_id))


@bp.post("/offers/<int:offer_id>/decline")
@login_required()
def offer_decline(offer_id: int) -> ResponseReturnValue:
    db = get_session()
    try:
        item = decline_offer(db, offer_id, current_agent())
        schedule_dispatch(db, [item.jurisdiction_id])
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("console.work"))
    db.commit()
    flash("Declined: the next agent will be offered it.", "success")
    return redirect(url_for("console.work"))


# --- A case -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """An interaction or an event, so the page can show both in one list by time."""

    at: dt.datetime
    interaction: Interaction | None = None
    call: Call | None = None
    event: CaseEvent | None = None


def timeline(db: Session, case: Case) -> list[TimelineEntry]:
    """Every interaction (with its call, if any) and every event, oldest first."""
    interactions, events = case_timeline(db, case)
    voice = [i.id for i in interactions if i.channel == Channel.VOICE]
    calls = (
        {
            c.interaction_id: c
            for c in db.scalars(sa.select(Call).where(Call.interaction_id.in_(voice)))
        }
        if voice
        else {}
    )
    entries = [
        TimelineEntry(i.created_at, interaction=i, call=calls.get(i.id)) for i in interactions
    ]
    entries += [TimelineEntry(e.created_at, event=e) for e in events]
    entries.sort(key=lambda e: e.at)  # stable: at equal times, interactions before events
    return entries


def agent_names(db: Session, entries: list[TimelineEntry]) -> dict[int, str]:
    ids = {e.event.actor_agent_id for e in entries if e.event is not None}
    ids |= {e.interaction.agent_id for e in entries if e.interaction is not None}
    ids.discard(None)
    if not ids:
        return {}
    rows = db.execute(sa.select(Agent.id, Agent.name).where(Agent.id.in_(ids)))
    return {agent_id: name for agent_id, name in rows}


def other_cases(db: Session, case: Case) -> Sequence[Case]:
    """The resident's other cases in this jurisdiction, newest first (one query)."""
    if case.resident_id is None:
        return []
    return db.scalars(
        sa.select(Case)
        .where(
            Case.resident_id == case.resident_id,
            Case.id != case.id,
            Case.jurisdiction_id == case.jurisdiction_id,
        )
        .options(joinedload(Case.service_type))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(50)
    ).all()


def reply_choices(
    db: Session, case: Case, *, chat_open: bool = False
) -> tuple[str | None, list[ReplyTarget]]:
    """The case's own reply address (the form's default), and the other points to pick from.

    A web chat that is over offers no default: its window may never open again, so the
    resident's phone or email (if they left one) comes first.
    """
    if case.origin_channel is Channel.WEBCHAT and not chat_open:
        others = reply_targets(db, case)
        if others:
            return None, others
    try:
        default: str | None = reply_route(db, case)[0]
    except Invalid:
        default = None
    others = [
        t
        for t in reply_targets(db, case)
        if not (t.channel == case.origin_channel and t.address == default)
    ]
    return default, others


@bp.get("/cases/<int:case_id>")
@login_required()
def case(case_id: int) -> ResponseReturnValue:
    db = get_session()
    found = get_case(db, jurisdiction_ids(), case_id)
    entries = timeline(db, found)
    live_chat = live_chat_of_case(db, found.id)
    reply_default, reply_others = reply_choices(db, found, chat_open=live_chat is not None)
    return render_template(
        "console/case.html",
        case=found,
        entries=entries,
        names=agent_names(db, entries),
        others=other_cases(db, found),
        transitions=sorted(TRANSITIONS[found.status]),
        timezone=found.jurisdiction.timezone,
        max_reply=MAX_BODY,
        reply_default=reply_default,
        reply_others=reply_others,
        max_note=MAX_NOTE,
        max_status_note=MAX_STATUS_NOTE,
        live_chat=live_chat,
    )


@bp.post("/cases/<int:case_id>/reply")
@login_required()
def case_reply(case_id: int) -> ResponseReturnValue:
    """A reply to the resident (on the case's route, or to the contact point picked in "to"),
    or with "internal note" checked, a note they never see."""
    body = request.form.get("body", "")
    to = request.form.get("to", "").strip()
    internal = bool(request.form.get("internal"))
    if internal and len(body) > MAX_NOTE:
        flash(f"A note can be at most {MAX_NOTE} characters.", "error")
        return redirect(url_for("console.case", case_id=case_id))
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    try:
        if internal:
            add_note(db, found, agent=current_agent(), body=body)
            done = "Internal note added."
        elif to:
            # A malformed id becomes 0, which is no contact point, so outbound refuses it.
            point_id = int(to) if to.isascii() and to.isdigit() else 0
            reply_to_contact(db, found, agent=current_agent(), body=body, contact_point_id=point_id)
            done = "Reply sent to the resident."
        else:
            reply_to_resident(db, found, agent=current_agent(), body=body)
            done = "Reply sent to the resident."
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("console.case", case_id=case_id))
    db.commit()
    flash(done, "success")
    return redirect(url_for("console.case", case_id=case_id))


@bp.post("/cases/<int:case_id>/chat/end")
@login_required()
def case_chat_end(case_id: int) -> ResponseReturnValue:
    """End the case's web chat (the case itself stays as it is)."""
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    ended = end_chats_of_case(db, found, by="agent")
    db.commit()
    if ended:
        flash("The chat has ended.", "success")
    else:
        flash("This case has no open chat.", "error")
    return redirect(url_for("console.case", case_id=case_id))


@bp.post("/cases/<int:case_id>/status")
@login_required()
def case_status(case_id: int) -> ResponseReturnValue:
    try:
        new_status = CaseStatus(request.form.get("status", ""))
    except ValueError:
        flash("Choose a status.", "error")
        return redirect(url_for("console.case", case_id=case_id))
    note = request.form.get("note", "").strip()[:MAX_STATUS_NOTE]
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    try:
        # A resolved or closed case's chat ends with it (the lifecycle sees to it).
        change_status(db, found, new_status, agent=current_agent(), note=note)
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for("console.case", case_id=case_id))
    db.commit()
    flash(f"The case is now {label(new_status)}.", "success")
    return redirect(url_for("console.case", case_id=case_id))
