"""The bounded, jurisdiction-scoped reads behind the public Open311 API.

Every query names its jurisdiction and has a limit; a page of requests costs a fixed number
of queries whatever its size (the cases, then their service types, departments and, when
some are confirmed duplicates, the originals, one query each). Nothing here reads residents,
agents, interactions or notes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseEvent, DuplicateStatus
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.open311.attributes import attributes_of
from contactcenter.open311.models import ServiceAttribute
from contactcenter.open311.params import MAX_OFFSET, RequestFilter, Window
from contactcenter.open311.serialize import statuses_for

STATUS_EVENT_KINDS = ("status_changed", "reopened")
"""The audit events that are status changes (contactcenter.cases.service.change_status)."""
MAX_SERVICES = 2000
MAX_KEY = 64
BLACKBOX = "blackbox"
MAX_UPDATES = 1000
"""Status updates one unpaged servicerequestupdates answer holds at most: a window with more
is refused (400) rather than cut, since a poller replaying updates oldest first would
otherwise skip the rest without knowing."""
"""Slugs, service codes and tracking numbers are at most this long: a longer one is unknown."""


def resolve_jurisdiction(session: Session, slug: str | None) -> Jurisdiction:
    """The jurisdiction named by ``jurisdiction_id`` (its slug), in one query.

    With exactly one jurisdiction in the deployment the parameter may be left out (the spec:
    it is only required where an endpoint serves several).

    :raises Invalid: left out where there are several (400, as the spec says).
    :raises NotFound: no jurisdiction has that id (404).
    """
    if slug:
        found = (
            session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == slug)).one_or_none()
            if len(slug) <= MAX_KEY
            else None
        )
        if found is None:
            raise NotFound(
                f"jurisdiction_id {slug[:64]!r} was not found.",
                fields={"jurisdiction_id": "unknown"},
            )
        return found
    candidates = session.scalars(sa.select(Jurisdiction).order_by(Jurisdiction.id).limit(2)).all()
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFound("No jurisdiction is served here.", fields={"jurisdiction_id": "none"})
    raise Invalid(
        "jurisdiction_id was not provided; this endpoint serves several jurisdictions.",
        fields={"jurisdiction_id": "required"},
    )


def active_services(session: Session, jurisdiction_id: int) -> list[ServiceType]:
    """The jurisdiction's active service types, by group then name."""
    return list(
        session.scalars(
            sa.select(ServiceType)
            .where(ServiceType.jurisdiction_id == jurisdiction_id, ServiceType.active.is_(True))
            .order_by(ServiceType.group, ServiceType.name, ServiceType.id)
            .limit(MAX_SERVICES)
        )
    )


@dataclass(frozen=True)
class RequestPage:
    """Cases with what their Open311 form needs, loaded in a fixed number of queries."""

    cases: list[Case]
    services: dict[int, ServiceType]
    departments: dict[int, Department]
    attributes: dict[int, dict[str, ServiceAttribute]] = field(default_factory=dict)
    """Each service type's attribute definitions by code (only when extensions are asked)."""

    def attributes_of(self, case: Case) -> dict[str, ServiceAttribute]:
        return self.attributes.get(case.service_type_id or 0, {})

    def service_of(self, case: Case) -> ServiceType | None:
        return self.services.get(case.service_type_id) if case.service_type_id else None

    def department_of(self, case: Case) -> Department | None:
        return self.departments.get(case.department_id) if case.department_id else None


def find_requests(
    session: Session, jurisdiction: Jurisdiction, query: RequestFilter
) -> RequestPage:
    """GET requests: newest first. With ids, those requests whatever their dates (the spec:
    service_request_id overrides every other argument); otherwise requested within the
    window, of the service codes and statuses asked, one page of at most 1000."""
    statement = sa.select(Case).where(Case.jurisdiction_id == jurisdiction.id, _published())
    window = query.window
    if query.ids:
        statement = statement.where(Case.tracking_number.in_(query.ids)).limit(len(query.ids))
    else:
        if window.offset > MAX_OFFSET:
            return RequestPage([], {}, {})
        statement = statement.where(Case.created_at >= window.start, Case.created_at <= window.end)
        if query.service_codes:
            statement = statement.where(
                Case.service_type_id.in_(
                    sa.select(ServiceType.id).where(
                        ServiceType.jurisdiction_id == jurisdiction.id,
                        ServiceType.code.in_(query.service_codes),
                    )
                )
            )
        if query.statuses:
            wanted = [s for open311 in query.statuses for s in statuses_for(open311)]
            statement = statement.where(Case.status.in_(wanted))
        statement = statement.offset(window.offset).limit(window.page_size)
    statement = statement.order_by(Case.created_at.desc(), Case.id.desc())
    return _page(session, list(session.scalars(statement)), with_attributes=query.extensions)


def _published() -> sa.ColumnElement[bool]:
    """Cases Open311 publishes: those of a service type (a request without one has no
    service_code, and is a conversation with the city rather than a service request) that
    is not a blackbox (the spec gives a blackbox request no service_request_id to look up)."""
    return sa.and_(
        Case.service_type_id.is_not(None),
        Case.service_type_id.not_in(
            sa.select(ServiceType.id).where(ServiceType.open311_type == BLACKBOX)
        ),
    )


def request_by_id(
    session: Session,
    jurisdiction: Jurisdiction,
    service_request_id: str,
    *,
    extensions: bool = False,
) -> RequestPage:
    """GET request: the one case with that tracking number in this jurisdiction.

    :raises NotFound: none here (another jurisdiction's requests are not found either).
    """
    case = (
        session.scalars(
            sa.select(Case).where(
                Case.jurisdiction_id == jurisdiction.id,
                Case.tracking_number == service_request_id,
                _published(),
            )
        ).one_or_none()
        if len(service_request_id) <= MAX_KEY
        else None
    )
    if case is None:
        raise NotFound(
            f"Service request {service_request_id[:64]!r} was not found.",
            fields={"service_request_id": "unknown"},
        )
    return _page(session, [case], with_attributes=extensions)


def cases_by_ids(
    session: Session, jurisdiction: Jurisdiction, case_ids: Sequence[int]
) -> RequestPage:
    """Cases by their internal ids (a token's case), within the jurisdiction."""
    if not case_ids:
        return RequestPage([], {}, {})
    cases = session.scalars(
        sa.select(Case).where(Case.jurisdiction_id == jurisdiction.id, Case.id.in_(case_ids))
    ).all()
    return _page(session, list(cases))


def _page(session: Session, cases: list[Case], *, with_attributes: bool = False) -> RequestPage:
    service_ids = {c.service_type_id for c in cases if c.service_type_id}
    department_ids = {c.department_id for c in cases if c.department_id}
    services = (
        {
            s.id: s
            for s in session.scalars(sa.select(ServiceType).where(ServiceType.id.in_(service_ids)))
        }
        if service_ids
        else {}
    )
    departments = (
        {
            d.id: d
            for d in session.scalars(sa.select(Department).where(Department.id.in_(department_ids)))
        }
        if department_ids
        else {}
    )
    originals = {
        c.duplicate_of_id
        for c in cases
        if c.duplicate_status == DuplicateStatus.CONFIRMED and c.duplicate_of_id
    }
    if originals:
        # Loaded into the session's identity map, so case.duplicate_of costs no query.
        session.scalars(sa.select(Case).where(Case.id.in_(originals))).all()
    attributes = (
        {
            service_id: {a.code: a for a in found}
            for service_id, found in attributes_of(session, service_ids).items()
        }
        if with_attributes and service_ids
        else {}
    )
    return RequestPage(cases, services, departments, attributes)


@dataclass(frozen=True)
class StatusUpdate:
    """One status change of a request, as mySociety's servicerequestupdates publishes it."""

    event_id: int
    tracking_number: str
    new_status: str
    created_at: dt.datetime


def status_updates(
    session: Session, jurisdiction: Jurisdiction, window: Window, *, paged: bool = True
) -> list[StatusUpdate]:
    """Status changes made within the window, oldest first (clients replay them in order),
    one page. Only the event's id, time and new status are read: never its note.

    Unless the client asked for a ``page``, the whole window must fit in one answer (at most
    :data:`MAX_UPDATES`, or page_size when smaller).

    :raises Invalid: not ``paged`` and the window holds more updates than that.
    """
    if window.offset > MAX_OFFSET:
        return []
    limit = window.page_size if paged else min(window.page_size, MAX_UPDATES)
    rows = session.execute(
        sa.select(CaseEvent.id, Case.tracking_number, CaseEvent.data, CaseEvent.created_at)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.jurisdiction_id == jurisdiction.id,
            Case.jurisdiction_id == jurisdiction.id,
            _published(),
            CaseEvent.kind.in_(STATUS_EVENT_KINDS),
            CaseEvent.created_at >= window.start,
            CaseEvent.created_at <= window.end,
        )
        .order_by(CaseEvent.created_at, CaseEvent.id)
        .offset(window.offset)
        .limit(limit if paged else limit + 1)
    ).all()
    if not paged and len(rows) > limit:
        raise Invalid(
            f"More than {limit} updates in this window; narrow start_date/end_date "
            "or use page (and page_size) to read them all.",
            code="too_many_updates",
            fields={"start_date": f"more than {limit} updates"},
        )
    return [
        StatusUpdate(event_id, tracking, str((data or {}).get("new") or ""), created_at)
        for event_id, tracking, data, created_at in rows
    ]
