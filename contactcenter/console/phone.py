"""The phone panel's server side: the call the signed-in agent has accepted and not yet ended.

The browser softphone (``static/softphone.js``) rings through Twilio; where Twilio cannot be
reached (tests, demos, voice not configured) the panel still shows this call and its controls,
because the server, not the SDK, knows which call the agent took.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import Session, joinedload

from contactcenter.agents.models import Agent
from contactcenter.calls.models import Call
from contactcenter.cases.models import Case
from contactcenter.console import bp
from contactcenter.db import get_session, utcnow
from contactcenter.routing.models import WorkItem, WorkKind, WorkState


@dataclass(frozen=True)
class CurrentCall:
    """What the panel shows of the agent's call."""

    call_id: int
    caller: str
    waited_from: dt.datetime
    waited_until: dt.datetime
    """Queued until answered, or until now while the agent's phone has not picked up yet."""
    case: Case | None


def current_call(db: Session, agent: Agent, now: dt.datetime | None = None) -> CurrentCall | None:
    """The agent's newest assigned ``call`` work item whose call has not ended, or None."""
    found = db.execute(
        sa.select(WorkItem, Call)
        .join(Call, Call.work_item_id == WorkItem.id)
        .where(
            WorkItem.agent_id == agent.id,
            WorkItem.kind == WorkKind.CALL,
            WorkItem.state == WorkState.ASSIGNED,
            WorkItem.jurisdiction_id.in_([j.id for j in agent.jurisdictions]),
            Call.ended_at.is_(None),
        )
        .options(joinedload(WorkItem.case), joinedload(Call.interaction))
        .order_by(WorkItem.assigned_at.desc(), Call.id.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    item, call = found
    since = call.queued_at or item.created_at
    until = (
        since + dt.timedelta(seconds=call.wait_seconds)
        if call.wait_seconds is not None
        else now or utcnow()
    )
    return CurrentCall(call.id, call.interaction.from_address, since, until, item.case)


def _agent_call() -> CurrentCall | None:
    agent = g.get("agent")
    return current_call(get_session(), agent) if isinstance(agent, Agent) else None


@bp.context_processor
def _phone_helpers() -> dict[str, Any]:
    # A function, not a value: only pages that show the panel run the query.
    return {"phone_call": _agent_call}
