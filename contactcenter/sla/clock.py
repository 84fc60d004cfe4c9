"""SLA clocks: time to first response and time to resolution, on a business calendar.

A clock starts when a case is routed. Its due and warning instants are computed once, on the
policy's calendar; a pause (the case waits on the resident) or a stop (resolved, then
reopened) pushes them later by the business time that passed meanwhile. The periodic tick
reads only clocks whose ``next_check_at`` has come, raises warnings and breaches once each,
and escalates: the case's waiting work moves to the policy's escalation queue (or the
supervisors get an escalation item), and its priority can be raised.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, Priority
from contactcenter.db import utcnow
from contactcenter.routing.context import PolicyInfo, context_for
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    PRIORITY_RANK,
    WorkItem,
    WorkKind,
    WorkState,
)
from contactcenter.routing.work import (
    Target,
    enqueue_work,
    first_response_given,
    withdraw_offers,
)
from contactcenter.sla.calendar import ALWAYS_OPEN, BusinessCalendar
from contactcenter.sla.models import CaseClock

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"


def start_clock(
    session: Session, case: Case, policy: PolicyInfo, now: dt.datetime | None = None
) -> CaseClock:
    now = now or utcnow()
    calendar = policy.calendar
    clock = CaseClock(
        case=case,
        jurisdiction_id=case.jurisdiction_id,
        policy_id=policy.id,
        started_at=now,
        warned=[],
        breached=[],
    )
    if policy.first_response_minutes:
        clock.first_response_warn_at, clock.first_response_due_at = _targets(
            calendar, now, policy.first_response_minutes, policy.warn_percent
        )
    if policy.resolution_minutes:
        clock.resolution_warn_at, clock.resolution_due_at = _targets(
            calendar, now, policy.resolution_minutes, policy.warn_percent
        )
        case.due_at = clock.resolution_due_at
    clock.next_check_at = _next_check(clock)
    session.add(clock)
    record_event(
        session,
        case,
        "sla_started",
        policy=policy.code,
        first_response_due_at=_iso(clock.first_response_due_at),
        resolution_due_at=_iso(clock.resolution_due_at),
    )
    return clock


def _targets(
    calendar: BusinessCalendar, start: dt.datetime, minutes: int, warn_percent: int
) -> tuple[dt.datetime, dt.datetime]:
    target = dt.timedelta(minutes=minutes)
    return calendar.add(start, target * warn_percent / 100), calendar.add(start, target)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _next_check(clock: CaseClock) -> dt.datetime | None:
    """The earliest warning or breach still to come; None when nothing can happen."""
    if clock.paused_at is not None or clock.stopped_at is not None:
        return None
    pending = []
    if clock.first_response_at is None:
        pending += _stage_instants(clock, FIRST_RESPONSE)
    pending += _stage_instants(clock, RESOLUTION)
    return min(pending, default=None)


def _stage_instants(clock: CaseClock, stage: str) -> list[dt.datetime]:
    warn_at, due_at = _stage(clock, stage)
    instants = []
    if warn_at is not None and stage not in clock.warned and stage not in clock.breached:
        instants.append(warn_at)
    if due_at is not None and stage not in clock.breached:
        instants.append(due_at)
    return instants


def _stage(clock: CaseClock, stage: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    if stage == FIRST_RESPONSE:
        return clock.first_response_warn_at, clock.first_response_due_at
    return clock.resolution_warn_at, clock.resolution_due_at


def _clock_of(session: Session, case: Case) -> CaseClock | None:
    if case.id is None:
        return next((c for c in session.new if isinstance(c, CaseClock) and c.case is case), None)
    return session.get(CaseClock, case.id)


def record_first_response(session: Session, case: Case, now: dt.datetime | None = None) -> None:
    """An agent answered the resident: the first-response clock stops, once, and the case
    no longer waits in a queue for somebody to answer it."""
    now = now or utcnow()
    first_response_given(session, case, now)
    clock = _clock_of(session, case)
    if clock is None or clock.first_response_at is not None:
        return
    clock.first_response_at = now
    on_time = clock.first_response_due_at is None or now <= clock.first_response_due_at
    clock.next_check_at = _next_check(clock)
    record_event(session, case, "first_response", on_time=on_time)


def pause_clock(session: Session, case: Case, now: dt.datetime | None = None) -> None:
    """The case waits on the resident; the clock does not run against the city meanwhile."""
    clock = _clock_of(session, case)
    if clock is None or clock.paused_at is not None or clock.stopped_at is not None:
        return
    clock.paused_at = now or utcnow()
    clock.next_check_at = None
    record_event(session, case, "sla_paused")


def resume_clock(session: Session, case: Case, now: dt.datetime | None = None) -> None:
    clock = _clock_of(session, case)
    if clock is None or clock.paused_at is None:
        return
    now = now or utcnow()
    _shift(session, case, clock, clock.paused_at, now)
    clock.paused_at = None
    clock.next_check_at = _next_check(clock)
    record_event(session, case, "sla_resumed", resolution_due_at=_iso(clock.resolution_due_at))


def stop_clock(session: Session, case: Case, now: dt.datetime | None = None) -> None:
    """Resolved or closed: the resolution clock stops (a reopen resumes it)."""
    clock = _clock_of(session, case)
    if clock is None or clock.stopped_at is not None:
        return
    now = now or utcnow()
    if clock.paused_at is not None:
        _shift(session, case, clock, clock.paused_at, now)
        clock.paused_at = None
    clock.stopped_at = now
    clock.next_check_at = None
    on_time = clock.resolution_due_at is None or now <= clock.resolution_due_at
    record_event(session, case, "sla_stopped", on_time=on_time)


def restart_clock(session: Session, case: Case, now: dt.datetime | None = None) -> None:
    """Reopened: the time it spent resolved does not count."""
    clock = _clock_of(session, case)
    if clock is None or clock.stopped_at is None:
        return
    now = now or utcnow()
    _shift(session, case, clock, clock.stopped_at, now)
    clock.stopped_at = None
    clock.next_check_at = _next_check(clock)


def _shift(
    session: Session, case: Case, clock: CaseClock, since: dt.datetime, now: dt.datetime
) -> None:
    """Move every instant still ahead later by the business time between ``since`` and now."""
    calendar = _calendar(session, case, clock)
    elapsed = calendar.between(since, now)
    if elapsed <= dt.timedelta(0):
        return
    if clock.first_response_at is None:
        clock.first_response_warn_at = _later(calendar, clock.first_response_warn_at, elapsed)
        clock.first_response_due_at = _later(calendar, clock.first_response_due_at, elapsed)
    clock.resolution_warn_at = _later(calendar, clock.resolution_warn_at, elapsed)
    clock.resolution_due_at = _later(calendar, clock.resolution_due_at, elapsed)
    if clock.resolution_due_at is not None:
        case.due_at = clock.resolution_due_at


def _later(
    calendar: BusinessCalendar, instant: dt.datetime | None, by: dt.timedelta
) -> dt.datetime | None:
    return calendar.add(instant, by) if instant is not None else None


def _calendar(session: Session, case: Case, clock: CaseClock) -> BusinessCalendar:
    context = context_for(session, case.jurisdiction_id)
    policy = context.policies_by_id.get(clock.policy_id)
    return policy.calendar if policy is not None else ALWAYS_OPEN


def check_clocks(session: Session, now: dt.datetime | None = None, limit: int = 500) -> set[int]:
    """Raise due warnings and breaches; returns the jurisdictions whose queues changed.

    Safe on several workers at once: on PostgreSQL each clock's case is locked, then the
    clock, both skipping rows someone else holds (that clock is checked next tick), and the
    clock is read again once locked, so a stage is warned or breached only once. The case
    comes first, as everywhere: an agent accepting holds the case and waits for its work,
    so a tick that waited for the case while holding that work would close a circle.
    """
    now = now or utcnow()
    due = (
        sa.select(CaseClock)
        .where(CaseClock.next_check_at <= now)
        .order_by(CaseClock.next_check_at)
        .limit(limit)
    )
    clocks = session.scalars(due).all()
    if not clocks:
        return set()
    postgres = session.get_bind().dialect.name == "postgresql"
    cases = {
        c.id: c
        for c in session.scalars(sa.select(Case).where(Case.id.in_([k.case_id for k in clocks])))
    }
    touched: set[int] = set()
    for clock in clocks:
        case = cases[clock.case_id]
        if postgres and not _lock_clock(session, case, clock, now):
            continue
        if _check_one(session, case, clock, now):
            touched.add(case.jurisdiction_id)
        clock.next_check_at = _next_check(clock)
    return touched


def _lock_clock(session: Session, case: Case, clock: CaseClock, now: dt.datetime) -> bool:
    """Lock the case, then its clock (PostgreSQL), each read afresh; False if someone holds
    either, or another worker checked the clock meanwhile."""
    locked_case = session.scalars(
        sa.select(Case)
        .where(Case.id == case.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if locked_case is None:
        return False
    locked_clock = session.scalars(
        sa.select(CaseClock)
        .where(CaseClock.case_id == clock.case_id, CaseClock.next_check_at <= now)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    return locked_clock is not None


def _check_one(session: Session, case: Case, clock: CaseClock, now: dt.datetime) -> bool:
    escalated = False
    stages = [RESOLUTION] if clock.first_response_at is not None else [FIRST_RESPONSE, RESOLUTION]
    for stage in stages:
        warn_at, due_at = _stage(clock, stage)
        if due_at is not None and now >= due_at and stage not in clock.breached:
            clock.breached = [*clock.breached, stage]
            case.sla_breached = True  # kept when the clock stops: the figures count it
            record_event(session, case, "sla_breached", stage=stage, due_at=due_at.isoformat())
            escalated |= _escalate(session, case, clock, stage, now)
        elif warn_at is not None and now >= warn_at and stage not in clock.warned:
            clock.warned = [*clock.warned, stage]
            record_event(session, case, "sla_warning", stage=stage, due_at=_iso(due_at))
    return escalated


def _escalate(session: Session, case: Case, clock: CaseClock, stage: str, now: dt.datetime) -> bool:
    """Raise the priority and move the work where the policy says; True if a queue changed."""
    policy = context_for(session, case.jurisdiction_id).policies_by_id.get(clock.policy_id)
    if policy is None:
        return False
    query = (
        sa.select(WorkItem)
        .where(WorkItem.case_id == case.id, WorkItem.state.in_(LIVE_WORK_STATES))
        .order_by(WorkItem.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Items before offers, as everywhere: an accept in flight finishes first, and its
        # item is then seen as assigned (and not moved away from the agent who took it).
        query = query.with_for_update()
    live = session.scalars(query.execution_options(populate_existing=True)).all()
    if (
        policy.escalate_priority
        and PRIORITY_RANK[policy.escalate_priority] > PRIORITY_RANK[case.priority]
    ):
        case.priority = Priority(policy.escalate_priority)
        for item in live:
            item.priority = max(item.priority, PRIORITY_RANK[policy.escalate_priority])
    if policy.escalate_queue_id is None:
        return bool(live)
    waiting = [i for i in live if i.state in (WorkState.WAITING, WorkState.OFFERED)]
    for item in waiting:
        withdraw_offers(session, [item.id], now)
        item.state = WorkState.WAITING
        item.queue_id = policy.escalate_queue_id
        item.targets = [[policy.escalate_queue_id, None]]
        item.target_index = 0
        item.target_started_at = now
        item.target_deadline_at = None
    if not waiting and not any(i.kind == WorkKind.ESCALATION for i in live):
        enqueue_work(
            session,
            jurisdiction_id=case.jurisdiction_id,
            case=case,
            kind=WorkKind.ESCALATION,
            channel=case.origin_channel,
            targets=[Target(policy.escalate_queue_id, None)],
            priority=PRIORITY_RANK[case.priority],
            now=now,
        )
    record_event(session, case, "escalated", stage=stage, queue_id=policy.escalate_queue_id)
    return True
