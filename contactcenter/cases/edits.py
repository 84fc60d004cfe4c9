"""An agent corrects a case's service type, priority or department.

Each change is an event with who and from -> to, so the audit trail explains why a case moved.
Values must belong to the case's own jurisdiction: ids come from a form, and a form can lie.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, Priority
from contactcenter.db import utcnow
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Department, ServiceType
from contactcenter.routing.models import LIVE_WORK_STATES, PRIORITY_RANK, WorkItem


def change_fields(
    session: Session,
    case: Case,
    agent: Agent,
    *,
    service_type: ServiceType | None = None,
    priority: Priority | None = None,
    department: Department | None = None,
) -> list[str]:
    """Apply the given values; returns the names of the fields that actually changed.

    :raises Invalid: a service type or department of another jurisdiction (nothing changes).
    """
    if service_type is not None and service_type.jurisdiction_id != case.jurisdiction_id:
        raise Invalid("Choose a service type of this city.", code="foreign_service_type")
    if service_type is not None and not service_type.active:
        raise Invalid("That service type is no longer offered.", code="inactive_service_type")
    if department is not None and department.jurisdiction_id != case.jurisdiction_id:
        raise Invalid("Choose a department of this city.", code="foreign_department")
    changed: list[str] = []
    if service_type is not None and service_type.id != case.service_type_id:
        old = case.service_type
        record_event(
            session,
            case,
            "service_type_changed",
            agent=agent,
            old=old.name if old else "not classified",
            new=service_type.name,
            old_code=old.code if old else None,
            new_code=service_type.code,
        )
        case.service_type = service_type
        changed.append("service_type")
    if priority is not None and priority != case.priority:
        record_event(
            session,
            case,
            "priority_changed",
            agent=agent,
            old=str(case.priority),
            new=str(priority),
        )
        case.priority = priority
        _reprioritize_work(session, case, priority)
        changed.append("priority")
    if department is not None and department.id != case.department_id:
        old_department = case.department
        record_event(
            session,
            case,
            "department_changed",
            agent=agent,
            old=old_department.name if old_department else "none",
            new=department.name,
            old_code=old_department.code if old_department else None,
            new_code=department.code,
        )
        case.department = department
        changed.append("department")
    if changed:
        case.updated_at = utcnow()
    return changed


def _reprioritize_work(session: Session, case: Case, priority: Priority) -> None:
    """Work still waiting for the case moves up (or down) the queue with it."""
    session.execute(
        sa.update(WorkItem)
        .where(WorkItem.case_id == case.id, WorkItem.state.in_(LIVE_WORK_STATES))
        .values(priority=PRIORITY_RANK[priority])
        .execution_options(synchronize_session=False)
    )
