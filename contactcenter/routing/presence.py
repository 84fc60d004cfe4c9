"""Agent presence: available, busy, away, offline, with the history reports need."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, PresenceChange
from contactcenter.db import utcnow
from contactcenter.realtime import notify_supervisors_after_commit
from contactcenter.routing.scheduling import schedule_dispatch


def set_presence(
    session: Session,
    agent: Agent,
    presence: Presence,
    *,
    by: Agent | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> PresenceChange | None:
    """Change ``agent``'s presence (by themselves or by ``by``, a supervisor).

    Becoming available asks for a dispatch, so waiting work reaches the agent at once.
    Returns None when nothing changed.
    """
    if agent.presence == presence:
        return None
    now = now or utcnow()
    change = PresenceChange(
        agent_id=agent.id,
        presence=presence.value,
        previous=agent.presence.value,
        changed_by_agent_id=by.id if by is not None else None,
        reason=reason,
        created_at=now,
    )
    session.add(change)
    agent.presence = presence
    agent.presence_changed_at = now
    for jurisdiction in agent.jurisdictions:
        notify_supervisors_after_commit(session, jurisdiction.id)
    if presence == Presence.AVAILABLE:
        schedule_dispatch(session, [j.id for j in agent.jurisdictions])
    return change
