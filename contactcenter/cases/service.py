"""The case state machine and everything that changes a case.

Services take the session, change objects and return; the edge (a request handler or a job)
commits once. Objects are linked by relationship rather than by id, so a whole intake reaches
the database in one flush instead of one round trip per step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter import tracking
from contactcenter.agents.models import Agent
from contactcenter.cases.duplicates import follow_parent
from contactcenter.cases.events import record_event
from contactcenter.cases.models import (
    OPEN_STATUSES,
    Awaiting,
    Case,
    CaseEvent,
    CaseStatus,
    Priority,
)
from contactcenter.db import utcnow
from contactcenter.errors import Conflict, Invalid
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.notifications import notify_status_change
from contactcenter.residents.models import Resident
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.work import forget_resolution, release_case_work
from contactcenter.sla.clock import pause_clock, restart_clock, resume_clock, stop_clock

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset(
        {CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.OPEN: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.OPEN, CaseStatus.RESOLVED, CaseStatus.CLOSED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.OPEN}),
    CaseStatus.CLOSED: frozenset({CaseStatus.OPEN}),
}


def new_tracking_number(session: Session, jurisdiction_id: int) -> str:
    """A tracking number not yet used in this jurisdiction (the unique constraint backs it)."""
    while True:
        candidate = tracking.generate()
        taken = session.scalar(
            sa.select(Case.id).where(
                Case.jurisdiction_id == jurisdiction_id, Case.tracking_number == candidate
            )
        )
        if taken is None:
            return candidate


def open_case(
    session: Session,
    *,
    jurisdiction: Jurisdiction,
    resident: Resident | None,
    channel: Channel,
    description: str,
    service_type: ServiceType | None,
    department: Department | None,
    address_text: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    language: str = "en",
    awaiting: Awaiting | None = None,
    created_by: Agent | None = None,
) -> Case:
    """A new case; ``created_by`` is the agent who recorded it for a resident (else the
    resident opened it themselves), so the audit trail says who wrote it down."""
    now = utcnow()
    due_at = None
    if service_type is not None and service_type.target_days:
        due_at = now + dt.timedelta(days=service_type.target_days)
    case = Case(
        jurisdiction_id=jurisdiction.id,
        tracking_number=new_tracking_number(session, jurisdiction.id),
        status=CaseStatus.NEW,
        priority=Priority.NORMAL,
        service_type=service_type,
        department=department,
        resident=resident,
        origin_channel=channel,
        language=language,
        description=description,
        address_text=address_text,
        latitude=latitude,
        longitude=longitude,
        awaiting=awaiting,
        due_at=due_at,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    record_event(
        session,
        case,
        "created",
        agent=created_by,
        actor=None if created_by else "resident",
        channel=str(channel),
        service_type=service_type.code if service_type else None,
        department=department.code if department else None,
    )
    return case


def set_location(session: Session, case: Case, address_text: str) -> None:
    case.address_text = address_text
    case.awaiting = None
    record_event(session, case, "location_set", actor="resident", address=address_text)
    resume_clock(session, case)


def wait_on_resident(session: Session, case: Case, *, agent: Agent) -> CaseEvent:
    """An agent asked the resident something: the SLA clock pauses until they answer."""
    if not case.is_open:
        raise Conflict(f"A {case.status} case is not waiting on anyone.", code="case_not_open")
    if case.awaiting is not None:
        raise Conflict("This case is already waiting on the resident.", code="already_waiting")
    case.awaiting = Awaiting.REPLY
    case.updated_at = utcnow()
    event = record_event(session, case, "waiting_on_resident", agent=agent)
    pause_clock(session, case)
    return event


def resident_replied(session: Session, case: Case) -> None:
    """The resident wrote back on a case: if it was waiting on them, the clock runs again."""
    if case.awaiting == Awaiting.REPLY:
        case.awaiting = None
        resume_clock(session, case)


def change_status(
    session: Session, case: Case, new_status: CaseStatus, *, agent: Agent | None, note: str = ""
) -> CaseEvent:
    """Move ``case`` to ``new_status`` if the lifecycle allows it.

    :raises Conflict: the transition is not allowed (for example closed -> in_progress).
    """
    old_status = case.status
    if new_status == old_status:
        raise Conflict(f"Case is already {new_status}.", code="status_unchanged")
    if new_status not in TRANSITIONS[old_status]:
        raise Conflict(
            f"A {old_status} case cannot become {new_status}.",
            code="invalid_transition",
            fields={"status": f"allowed: {', '.join(sorted(TRANSITIONS[old_status]))}"},
        )
    now = utcnow()
    case.status = new_status
    case.updated_at = now
    if new_status == CaseStatus.RESOLVED:
        case.resolved_at = now
    elif new_status == CaseStatus.CLOSED:
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    elif new_status in OPEN_STATUSES:
        case.resolved_at = None
        case.closed_at = None
    reopened = (
        old_status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and new_status in OPEN_STATUSES
    )
    if reopened:
        case.reopened_count = (case.reopened_count or 0) + 1
    kind = "reopened" if reopened else "status_changed"
    event = record_event(
        session, case, kind, agent=agent, old=str(old_status), new=str(new_status), note=note
    )
    _follow_lifecycle(session, case, new_status, reopened, agent)
    session.flush()
    notify_status_change(session, case, old_status)
    follow_parent(session, case, agent)
    return event


CaseHook = Callable[[Session, Case], None]
_finished_hooks: list[CaseHook] = []


def when_case_finished(hook: CaseHook) -> CaseHook:
    """Register ``hook`` to run whenever a case is resolved or closed, after its work left the
    queue (web chats end with it). Modules that build on cases register themselves, so this
    one needs not know them (and imports none of them)."""
    if hook not in _finished_hooks:
        _finished_hooks.append(hook)
    return hook


def _follow_lifecycle(
    session: Session, case: Case, new_status: CaseStatus, reopened: bool, agent: Agent | None
) -> None:
    """SLA clock and queue follow the status: resolved work leaves the queue and frees agents
    (and the contact that resolved it is credited); a reopen takes that credit back."""
    if new_status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        stop_clock(session, case)
        if release_case_work(session, case, resolved_by=agent):
            schedule_dispatch(session, [case.jurisdiction_id])
        for hook in _finished_hooks:
            hook(session, case)
    elif reopened:
        restart_clock(session, case)
        if case.id is not None:
            forget_resolution(session, case.id)


def add_note(session: Session, case: Case, *, agent: Agent, body: str) -> CaseEvent:
    """An internal note: staff see it, the resident never does."""
    text = body.strip()
    if not text:
        raise Invalid("A note needs some text.", code="empty_note", fields={"body": "required"})
    event = record_event(session, case, "note", agent=agent, body=text)
    case.updated_at = utcnow()
    session.flush()
    return event
