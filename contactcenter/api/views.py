"""The staff JSON API (``/api/v1``): handlers parse, call one service, commit, render."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.api import schemas
from contactcenter.api.serializers import (
    agent_json,
    case_detail,
    case_summary,
    event_json,
    interaction_json,
)
from contactcenter.auth import (
    authenticate_password,
    current_agent,
    issue_token,
    jurisdiction_ids,
    require_staff,
)
from contactcenter.calls.models import Call
from contactcenter.cases.models import Case, Interaction
from contactcenter.cases.queries import CaseFilters, case_timeline, get_case, list_cases, lock_case
from contactcenter.cases.service import add_note, change_status
from contactcenter.chats.service import live_chat_of_case
from contactcenter.db import get_session
from contactcenter.errors import Unauthorized
from contactcenter.messages import Channel
from contactcenter.outbound import reply_targets, reply_to_contact, reply_to_resident
from contactcenter.sla.models import CaseClock

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body() -> Any:
    return request.get_json(silent=True)


@bp.post("/tokens")
def create_token() -> tuple[dict[str, Any], int]:
    body = schemas.parse(schemas.TokenRequest, _json_body())
    session = get_session()
    try:
        agent = authenticate_password(session, body.email, body.password)
    except Unauthorized:
        session.commit()  # the failure counts toward the lock-out
        raise
    token = issue_token(session, agent, name=body.name or "api")
    session.commit()
    return {"token": token, "agent": agent_json(agent)}, 201


@bp.get("/me")
@require_staff()
def me() -> dict[str, Any]:
    return {"agent": agent_json(current_agent())}


@bp.get("/cases")
@require_staff()
def cases_index() -> dict[str, Any]:
    query = schemas.parse(schemas.CaseListQuery, request.args.to_dict())
    page = list_cases(get_session(), jurisdiction_ids(), CaseFilters(**query.model_dump()))
    return {
        "data": [case_summary(c) for c in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    }


@bp.get("/cases/<int:case_id>")
@require_staff()
def case_show(case_id: int) -> dict[str, Any]:
    session = get_session()
    case = get_case(session, jurisdiction_ids(), case_id)
    clock = session.get(CaseClock, case.id)
    interactions, events = case_timeline(session, case)
    voice = [i.id for i in interactions if i.channel == Channel.VOICE]
    calls = session.scalars(sa.select(Call).where(Call.interaction_id.in_(voice))) if voice else ()
    return {"data": case_detail(case, interactions, events, clock, calls)}


@bp.post("/cases/<int:case_id>/status")
@require_staff()
def case_status(case_id: int) -> dict[str, Any]:
    body = schemas.parse(schemas.StatusChange, _json_body())
    session = get_session()
    case = lock_case(session, jurisdiction_ids(), case_id)
    # A resolved or closed case's chat ends with it (the lifecycle sees to it).
    event = change_status(session, case, body.status, agent=current_agent(), note=body.note)
    session.commit()
    return {"data": case_summary(case), "event": event_json(event)}


@bp.post("/cases/<int:case_id>/notes")
@require_staff()
def case_note(case_id: int) -> tuple[dict[str, Any], int]:
    body = schemas.parse(schemas.NoteRequest, _json_body())
    session = get_session()
    case = lock_case(session, jurisdiction_ids(), case_id)
    event = add_note(session, case, agent=current_agent(), body=body.body)
    session.commit()
    return {"data": event_json(event)}, 201


@bp.post("/cases/<int:case_id>/replies")
@require_staff()
def case_reply(case_id: int) -> tuple[dict[str, Any], int]:
    body = schemas.parse(schemas.ReplyRequest, _json_body())
    session = get_session()
    case = lock_case(session, jurisdiction_ids(), case_id)
    interaction = _reply(session, case, current_agent(), body.body)
    session.commit()
    return {"data": interaction_json(interaction)}, 201


def _reply(session: Session, case: Case, agent: Agent, body: str) -> Interaction:
    """On the case's own route; but a web chat that is over is answered at the phone or email
    the resident left (its window may never open again), as the console does."""
    if case.origin_channel is Channel.WEBCHAT and live_chat_of_case(session, case.id) is None:
        targets = reply_targets(session, case)
        if targets:
            return reply_to_contact(
                session, case, agent=agent, body=body, contact_point_id=targets[0].contact_point_id
            )
    return reply_to_resident(session, case, agent=agent, body=body)


from contactcenter.api import call_views, incident_views  # noqa: E402, F401 - register routes
