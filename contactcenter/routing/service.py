"""Routing a case: which rule decides, and what follows from the decision.

``route_case`` runs once when a case is opened: the jurisdiction's rules decide department,
queue, priority, skills, language and SLA policy (first match wins, else the default); the
case records the rule that decided; its SLA clock starts; it is checked against open cases
for a likely duplicate and a burst of similar reports; and, when a queue is decided, the
case waits there for an agent's first response. ``dry_run`` answers "where would this go,
and why?" without changing anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from contactcenter.cases.duplicates import detect_duplicate, detect_incident
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, Priority
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.jurisdictions.service import default_department
from contactcenter.jurisdictions.settings import detection_settings
from contactcenter.routing.context import RoutingContext, routing_context
from contactcenter.routing.models import PRIORITY_RANK, WorkItem, WorkKind
from contactcenter.routing.rules import CaseFacts, Decision
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.work import Target, enqueue_work
from contactcenter.sla.clock import pause_clock, start_clock


@dataclass(frozen=True)
class RoutingOutcome:
    decision: Decision
    department: Department | None
    districts: tuple[str, ...]
    work_item: WorkItem | None


def case_facts(case: Case, context: RoutingContext, now: dt.datetime | None = None) -> CaseFacts:
    service_type = case.service_type
    resident = case.resident
    districts: tuple[str, ...] = ()
    if case.latitude is not None and case.longitude is not None:
        districts = context.districts.containing(case.latitude, case.longitude)
    return CaseFacts(
        service_type=service_type.code if service_type is not None else None,
        service_group=(service_type.group or None) if service_type is not None else None,
        channel=str(case.origin_channel),
        language=case.language,
        priority=str(case.priority),
        description=case.description,
        resident_flags=frozenset(resident.flags or ()) if resident is not None else frozenset(),
        districts=frozenset(districts),
        at=now,
    )


def route_case(session: Session, case: Case, now: dt.datetime | None = None) -> RoutingOutcome:
    now = now or utcnow()
    jurisdiction = session.get_one(Jurisdiction, case.jurisdiction_id)
    context = routing_context(session, jurisdiction)
    facts = case_facts(case, context, now)
    decision = context.rules.decide(facts)
    department = _department(session, case, context, decision)
    case.department = department
    case.district = min(facts.districts) if facts.districts else None
    if decision.priority is not None:
        case.priority = Priority(decision.priority)
    case.routing_rule = decision.rule or "default"
    queue_id = context.queue_ids.get(decision.queue or "") or context.default_queue_id
    policy = context.policies.get(decision.sla or "") or context.default_policy
    record_event(
        session,
        case,
        "routed",
        rule=case.routing_rule,
        rule_set_version=context.rule_set_version,
        department=department.code if department is not None else None,
        queue=decision.queue,
        priority=str(case.priority),
        sla=policy.code if policy is not None else None,
        districts=sorted(facts.districts),
    )
    if policy is not None:
        start_clock(session, case, policy, now)
        if case.awaiting is not None:
            pause_clock(session, case, now)
    settings = detection_settings(jurisdiction)
    detect_duplicate(session, case, settings)
    detect_incident(session, case, settings)
    item = None
    if queue_id is not None:
        item = enqueue_work(
            session,
            jurisdiction_id=case.jurisdiction_id,
            case=case,
            kind=WorkKind.FIRST_RESPONSE,
            channel=case.origin_channel,
            targets=_targets(context, decision, queue_id),
            priority=PRIORITY_RANK[case.priority],
            skills=decision.skills,
            language=decision.language,
            now=now,
        )
        schedule_dispatch(session, [case.jurisdiction_id])
    return RoutingOutcome(decision, department, tuple(sorted(facts.districts)), item)


def _department(
    session: Session, case: Case, context: RoutingContext, decision: Decision
) -> Department | None:
    if decision.department is not None and decision.department in context.department_ids:
        return session.get(Department, context.department_ids[decision.department])
    if case.service_type is not None and case.service_type.department is not None:
        return case.service_type.department
    return default_department(session, case.jurisdiction_id)


def _targets(context: RoutingContext, decision: Decision, queue_id: int) -> list[Target]:
    targets = [
        Target(context.queue_ids[code], timeout)
        for code, timeout in decision.targets
        if code in context.queue_ids
    ]
    return targets or [Target(queue_id, None)]


def dry_run(session: Session, jurisdiction: Jurisdiction, facts: CaseFacts) -> dict[str, Any]:
    """Where a case with these facts would go and which rule would decide; changes nothing."""
    context = routing_context(session, jurisdiction)
    decision = context.rules.decide(facts)
    queue = decision.queue
    if queue is None and context.default_queue_id is not None:
        queue = next(c for c, i in context.queue_ids.items() if i == context.default_queue_id)
    return {
        "rule": decision.rule,
        "rule_index": decision.rule_index,
        "rule_set_version": context.rule_set_version,
        "department": decision.department,
        "queue": queue,
        "priority": decision.priority,
        "skills": list(decision.skills),
        "language": decision.language,
        "sla": decision.sla,
        "targets": [{"queue": q, "timeout": t} for q, t in decision.targets],
        "districts": sorted(facts.districts),
        "trace": context.rules.explain(facts),
    }
