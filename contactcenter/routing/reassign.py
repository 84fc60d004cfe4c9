"""A supervisor moves assigned work from one agent to another (someone is swamped or leaving).

Dispatch never overbooks, but a supervisor may: they can see the whole floor, so the new
agent's capacity is not checked, except for a live chat, which needs its new agent signed in
(available or busy) and with room for it. Calls are refused: a call is on the line with its
agent.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, agent_jurisdictions
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case
from contactcenter.chats.service import chat_work_moved
from contactcenter.db import utcnow
from contactcenter.errors import Conflict, Invalid, NotFound
from contactcenter.realtime import notify_supervisors_after_commit
from contactcenter.routing.models import WorkItem, WorkKind, WorkState
from contactcenter.routing.work import ensure_can_take_live, lock_case_of


def works_for(session: Session, agent: Agent, jurisdiction_id: int) -> bool:
    """Whether ``agent`` is an active member of the jurisdiction (read fresh, not cached)."""
    return (
        agent.active
        and session.scalar(
            sa.select(sa.func.count()).where(
                agent_jurisdictions.c.agent_id == agent.id,
                agent_jurisdictions.c.jurisdiction_id == jurisdiction_id,
            )
        )
        == 1
    )


def reassign_work(
    session: Session, item: WorkItem, to_agent: Agent, by: Agent, now: dt.datetime | None = None
) -> WorkItem:
    """Give ``item`` (assigned) to ``to_agent``, recording who moved it; the caller commits.

    :raises NotFound: ``by`` does not supervise the item's jurisdiction.
    :raises Invalid: ``to_agent`` does not work for that jurisdiction, or already holds it.
    :raises Conflict: the item is not assigned (any more), or is a call;
        ``agent_not_available``: a live chat would go to an agent who is away, offline or
        has no room for it.
    """
    now = now or utcnow()
    # The case first, as everywhere (case, work item, offer, chat): a resident ending the
    # chat or the agent completing the work holds the case and then waits for this item.
    lock_case_of(session, item.id)
    session.refresh(item)
    if not works_for(session, by, item.jurisdiction_id):
        raise NotFound("No such work.", code="work_not_found")
    if not works_for(session, to_agent, item.jurisdiction_id):
        raise Invalid(
            f"{to_agent.name} does not work for this jurisdiction.", code="agent_not_eligible"
        )
    if item.kind == WorkKind.CALL:
        raise Conflict("A call stays with the agent who has it on the line.", code="work_is_call")
    if item.agent_id == to_agent.id:
        raise Invalid(f"{to_agent.name} already has this work.", code="already_assigned")
    ensure_can_take_live(session, item, to_agent)
    from_agent_id = item.agent_id
    moved = session.execute(
        sa.update(WorkItem)
        .where(
            WorkItem.id == item.id,
            WorkItem.state == WorkState.ASSIGNED,
            WorkItem.agent_id == from_agent_id,
        )
        .values(agent_id=to_agent.id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(item)
        raise Conflict(
            f"This work is {item.state.replace('_', ' ')} now, not assigned: reload the board.",
            code="work_not_assigned",
        )
    to_agent.last_assigned_at = now
    session.refresh(item)
    if item.case_id is not None:
        case = session.get_one(Case, item.case_id)
        case.assigned_agent_id = to_agent.id
        case.updated_at = now
        record_event(
            session,
            case,
            "reassigned",
            agent=by,
            work_item=item.id,
            from_agent_id=from_agent_id,
            to_agent_id=to_agent.id,
        )
    chat_work_moved(session, item, now)  # a chat: typing and the agent's name follow
    notify_supervisors_after_commit(session, item.jurisdiction_id)
    return item
