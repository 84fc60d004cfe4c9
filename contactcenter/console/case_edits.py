"""Case page tools: correct service type, priority and department; transfer; canned replies.

The case page calls :func:`case_tools` for what its forms offer, so the page view stays as it
is; every choice is re-checked on post, because a form's ids can name another city's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import selectinload

from contactcenter.agents.models import Agent, agent_jurisdictions
from contactcenter.auth import current_agent, jurisdiction_ids
from contactcenter.cases.canned import UnknownPlaceholder, case_values, fill, responses_for
from contactcenter.cases.edits import change_fields
from contactcenter.cases.models import Case, Priority
from contactcenter.cases.queries import MAX_ID, lock_case
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session
from contactcenter.errors import DomainError, Invalid
from contactcenter.jurisdictions.models import Department, ServiceType
from contactcenter.routing.models import Queue
from contactcenter.routing.transfer import transfer_case

CASE_EDIT_EVENTS = ("service_type_changed", "priority_changed", "department_changed", "transferred")
"""Events the timeline shows as "from -> to"."""


@dataclass(frozen=True)
class CannedChoice:
    id: int
    title: str
    language: str
    text: str
    """Already filled for this case: what the reply box gets."""


@dataclass(frozen=True)
class CaseTools:
    service_types: Sequence[ServiceType]
    departments: Sequence[Department]
    priorities: Sequence[Priority]
    queues: Sequence[Queue]
    agents: Sequence[Agent]
    canned: Sequence[CannedChoice] = field(default_factory=list)
    chosen: int | None = None
    reply_text: str = ""


@bp.context_processor
def _case_tools_helper() -> dict[str, Any]:
    return {"case_tools": case_tools, "CASE_EDIT_EVENTS": CASE_EDIT_EVENTS}


def case_tools(case: Case) -> CaseTools:
    """The choices the case page's forms offer, all of the case's own jurisdiction.

    ``?canned=<id>`` pre-fills the reply box (the page works without script); an id of
    another jurisdiction answers 404 like any other record the agent may not see.
    """
    db = get_session()
    jurisdiction_id = case.jurisdiction_id
    canned = []
    for response in responses_for(db, case):
        try:
            canned.append(
                CannedChoice(
                    response.id,
                    response.title,
                    response.language,
                    fill(response.body, case_values(case)),
                )
            )
        except UnknownPlaceholder:
            continue  # saved before the check, or edited in the database: never sent half-filled
    chosen = _int_arg(request.args.get("canned"))
    reply_text = ""
    if chosen is not None:
        match = next((c for c in canned if c.id == chosen), None)
        if match is None:
            abort(404)
        reply_text = match.text
    return CaseTools(
        service_types=db.scalars(
            sa.select(ServiceType)
            .where(ServiceType.jurisdiction_id == jurisdiction_id, ServiceType.active.is_(True))
            .order_by(ServiceType.name)
        ).all(),
        departments=db.scalars(
            sa.select(Department)
            .where(Department.jurisdiction_id == jurisdiction_id)
            .order_by(Department.name)
        ).all(),
        priorities=list(Priority),
        queues=db.scalars(
            sa.select(Queue).where(Queue.jurisdiction_id == jurisdiction_id).order_by(Queue.name)
        ).all(),
        agents=db.scalars(
            sa.select(Agent)
            .join(agent_jurisdictions, agent_jurisdictions.c.agent_id == Agent.id)
            .where(agent_jurisdictions.c.jurisdiction_id == jurisdiction_id, Agent.active)
            .order_by(Agent.name, Agent.id)
            .limit(500)
        ).all(),
        canned=canned,
        chosen=chosen,
        reply_text=reply_text,
    )


def _int_arg(value: str | None) -> int | None:
    """A positive id from a form or query, or None for empty or nonsense."""
    if not value or not (value.isascii() and value.isdigit()) or len(value) > 9:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def _back(case_id: int) -> ResponseReturnValue:
    return redirect(url_for("console.case", case_id=case_id))


@bp.post("/cases/<int:case_id>/fields")
@login_required()
def case_fields(case_id: int) -> ResponseReturnValue:
    """Service type, priority and department in one form: only what differs changes."""
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    service_type = department = None
    priority: Priority | None = None
    try:
        if raw := request.form.get("service_type"):
            service_type = _row(ServiceType, raw, "Choose a service type of this city.")
        if raw := request.form.get("department"):
            department = _row(Department, raw, "Choose a department of this city.")
        if raw := request.form.get("priority"):
            try:
                priority = Priority(raw)
            except ValueError:
                raise Invalid("Choose low, normal, high or urgent.") from None
        changed = change_fields(
            db,
            found,
            current_agent(),
            service_type=service_type,
            priority=priority,
            department=department,
        )
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _back(case_id)
    db.commit()
    if changed:
        flash(f"Changed: {', '.join(name.replace('_', ' ') for name in changed)}.", "success")
    else:
        flash("Nothing changed.", "success")
    return _back(case_id)


def _row(model: type[ServiceType] | type[Department], raw: str, message: str) -> Any:
    row_id = _int_arg(raw)
    row = get_session().get(model, row_id) if row_id is not None else None
    if row is None:
        raise Invalid(message)
    return row


@bp.post("/cases/<int:case_id>/transfer")
@login_required()
def case_transfer(case_id: int) -> ResponseReturnValue:
    """To a queue (the work waits there again) or to an agent (it is theirs now)."""
    db = get_session()
    found = lock_case(db, jurisdiction_ids(), case_id)
    kind, _, raw_id = request.form.get("target", "").partition(":")
    target_id = _int_arg(raw_id)
    try:
        if kind == "queue" and target_id is not None and (queue := db.get(Queue, target_id)):
            transfer_case(db, found, current_agent(), queue=queue)
            done = f"Transferred to the {queue.name} queue."
        elif kind == "agent" and target_id is not None and (to_agent := _agent(target_id)):
            transfer_case(db, found, current_agent(), to_agent=to_agent)
            done = f"Transferred to {to_agent.name}."
        else:
            raise Invalid("Choose a queue or an agent of this city.")
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
        return _back(case_id)
    db.commit()
    flash(done, "success")
    return _back(case_id)


def _agent(agent_id: int) -> Agent | None:
    return (
        get_session()
        .scalars(
            sa.select(Agent).where(Agent.id == agent_id).options(selectinload(Agent.jurisdictions))
        )
        .one_or_none()
    )
