"""The case audit trail: one append-only row per thing that happened to a case.

Kept apart from :mod:`contactcenter.cases.service` so routing, SLA clocks and the case
state machine can all record events without importing one another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case, CaseEvent


def record_event(
    session: Session,
    case: Case,
    kind: str,
    *,
    agent: Agent | None = None,
    actor: str | None = None,
    **data: Any,
) -> CaseEvent:
    event = CaseEvent(
        case=case,
        jurisdiction_id=case.jurisdiction_id,
        kind=kind,
        actor_agent_id=agent.id if agent else None,
        actor=actor or ("agent" if agent else "system"),
        data=data,
    )
    session.add(event)
    return event
