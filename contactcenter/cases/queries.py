"""Reading cases for staff, always scoped to the jurisdictions the reader works for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from contactcenter.cases.models import Case, CaseEvent, CaseStatus, Interaction
from contactcenter.errors import NotFound
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.residents.models import Resident

MAX_PAGE_SIZE = 100
MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger one in a URL matches no row


@dataclass(frozen=True)
class CaseFilters:
    status: CaseStatus | None = None
    department: str | None = None
    service_type: str | None = None
    jurisdiction: str | None = None
    tracking_number: str | None = None
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class Page:
    items: Sequence[Case]
    page: int
    per_page: int
    total: int


def _summary_options() -> list[sa.orm.interfaces.LoaderOption]:
    return [
        joinedload(Case.jurisdiction),
        joinedload(Case.service_type),
        joinedload(Case.department),
        joinedload(Case.assigned_agent),
    ]


def list_cases(session: Session, jurisdiction_ids: Sequence[int], filters: CaseFilters) -> Page:
    """Newest first, one page at a time (never unbounded)."""
    query = sa.select(Case).where(Case.jurisdiction_id.in_(jurisdiction_ids))
    if filters.jurisdiction:
        query = query.join(Jurisdiction, Jurisdiction.id == Case.jurisdiction_id).where(
            Jurisdiction.slug == filters.jurisdiction
        )
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.department:
        query = query.join(Department, Department.id == Case.department_id).where(
            Department.code == filters.department
        )
    if filters.service_type:
        query = query.join(ServiceType, ServiceType.id == Case.service_type_id).where(
            ServiceType.code == filters.service_type
        )
    if filters.tracking_number:
        query = query.where(Case.tracking_number == filters.tracking_number)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    per_page = max(1, min(filters.per_page, MAX_PAGE_SIZE))
    items = session.scalars(
        query.options(*_summary_options())
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(per_page)
        .offset((max(filters.page, 1) - 1) * per_page)
    ).all()
    return Page(items=items, page=max(filters.page, 1), per_page=per_page, total=total)


def _check_id(case_id: int) -> None:
    """An id no row can have answers 404 before the database sees it (PostgreSQL would
    reject it as out of range, SQLite as too large, and the request would fail with a 500)."""
    if not 1 <= case_id <= MAX_ID:
        raise NotFound(f"No case {case_id}.", code="case_not_found")


def get_case(session: Session, jurisdiction_ids: Sequence[int], case_id: int) -> Case:
    """:raises NotFound: no such case in the reader's jurisdictions."""
    _check_id(case_id)
    case = session.scalars(
        sa.select(Case)
        .where(Case.id == case_id, Case.jurisdiction_id.in_(jurisdiction_ids))
        .options(
            *_summary_options(),
            joinedload(Case.resident).selectinload(Resident.contact_points),
        )
    ).one_or_none()
    if case is None:
        raise NotFound(f"No case {case_id}.", code="case_not_found")
    return case


def case_timeline(
    session: Session, case: Case
) -> tuple[Sequence[Interaction], Sequence[CaseEvent]]:
    interactions = session.scalars(
        sa.select(Interaction).where(Interaction.case_id == case.id).order_by(Interaction.id)
    ).all()
    events = session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    return interactions, events


def lock_case(session: Session, jurisdiction_ids: Sequence[int], case_id: int) -> Case:
    """:func:`get_case`, holding the row so two agents' changes serialize."""
    _check_id(case_id)
    case = session.scalars(
        sa.select(Case)
        .where(Case.id == case_id, Case.jurisdiction_id.in_(jurisdiction_ids))
        .with_for_update()
    ).one_or_none()
    if case is None:
        raise NotFound(f"No case {case_id}.", code="case_not_found")
    return get_case(session, jurisdiction_ids, case_id)
