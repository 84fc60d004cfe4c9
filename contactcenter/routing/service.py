"""Routing a case to a department.

For now the service type decides, and the jurisdiction's default department takes the rest;
rule-based routing to queues and agents replaces this behind the same function.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from contactcenter.cases.models import Case
from contactcenter.cases.service import record_event
from contactcenter.jurisdictions.models import Department
from contactcenter.jurisdictions.service import default_department


def route_case(session: Session, case: Case) -> Department | None:
    department = None
    if case.service_type is not None and case.service_type.department is not None:
        department = case.service_type.department
    if department is None:
        department = default_department(session, case.jurisdiction_id)
    case.department = department
    record_event(
        session,
        case,
        "routed",
        department=department.code if department else None,
        rule="service_type" if case.service_type is not None else "default",
    )
    return department
