"""Everything routing needs about one jurisdiction, compiled once per process and version.

Rules, district polygons, calendars, queues and SLA policies change rarely and are read for
every case. They are compiled into a :class:`RoutingContext` held in process memory and
keyed by ``Jurisdiction.routing_version``, which every change bumps: routing a case then
costs one integer comparison instead of a dozen queries and a geometry rebuild.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.routing.geo import DistrictIndex
from contactcenter.routing.models import District, Queue, RuleSet
from contactcenter.routing.rules import (
    EMPTY_RULE_SET,
    CompiledRuleSet,
    RuleCatalog,
    RuleSetError,
    compile_rule_set,
)
from contactcenter.sla.calendar import ALWAYS_OPEN, BusinessCalendar
from contactcenter.sla.models import CalendarRecord, SlaPolicy


@dataclass(frozen=True)
class PolicyInfo:
    id: int
    code: str
    calendar: BusinessCalendar
    first_response_minutes: int | None
    resolution_minutes: int | None
    warn_percent: int
    escalate_queue_id: int | None
    escalate_priority: str | None


@dataclass(frozen=True)
class RoutingContext:
    jurisdiction_id: int
    version: int
    timezone: str
    rules: CompiledRuleSet
    rule_set_version: int
    districts: DistrictIndex
    calendars: dict[str, BusinessCalendar]
    queue_ids: dict[str, int]
    default_queue_id: int | None
    department_ids: dict[str, int]
    policies: dict[str, PolicyInfo]
    policies_by_id: dict[int, PolicyInfo] = field(default_factory=dict)
    default_policy: PolicyInfo | None = None


log = logging.getLogger(__name__)

_cache: dict[int, RoutingContext] = {}
_lock = threading.Lock()


def routing_context(session: Session, jurisdiction: Jurisdiction) -> RoutingContext:
    cached = _cache.get(jurisdiction.id)
    if cached is not None and cached.version == jurisdiction.routing_version:
        return cached
    with _lock:
        context = build_context(session, jurisdiction)
        _cache[jurisdiction.id] = context
        return context


def context_for(session: Session, jurisdiction_id: int) -> RoutingContext:
    """The context by id (the jurisdiction row is usually in the session already)."""
    return routing_context(session, session.get_one(Jurisdiction, jurisdiction_id))


def forget_contexts() -> None:
    _cache.clear()


def load_catalog(
    session: Session, jurisdiction: Jurisdiction
) -> tuple[RuleCatalog, dict[str, BusinessCalendar]]:
    """The names a rule set of this jurisdiction may refer to, from the database."""
    jid = jurisdiction.id
    calendars = {
        c.code: BusinessCalendar.from_config(c.config, default_timezone=jurisdiction.timezone)
        for c in session.scalars(
            sa.select(CalendarRecord).where(CalendarRecord.jurisdiction_id == jid)
        )
    }
    service_types = session.execute(
        sa.select(ServiceType.code, ServiceType.group).where(ServiceType.jurisdiction_id == jid)
    ).all()
    catalog = RuleCatalog(
        departments=frozenset(
            session.scalars(sa.select(Department.code).where(Department.jurisdiction_id == jid))
        ),
        queues=frozenset(
            session.scalars(sa.select(Queue.code).where(Queue.jurisdiction_id == jid))
        ),
        service_types=frozenset(code for code, _group in service_types),
        service_groups=frozenset(group for _code, group in service_types if group),
        districts=frozenset(
            session.scalars(sa.select(District.code).where(District.jurisdiction_id == jid))
        ),
        sla_policies=frozenset(
            session.scalars(sa.select(SlaPolicy.code).where(SlaPolicy.jurisdiction_id == jid))
        ),
        calendars=calendars,
        timezone=jurisdiction.timezone,
    )
    return catalog, calendars


def current_rule_set(session: Session, jurisdiction_id: int) -> RuleSet | None:
    return session.scalars(
        sa.select(RuleSet)
        .where(RuleSet.jurisdiction_id == jurisdiction_id)
        .order_by(RuleSet.version.desc())
        .limit(1)
    ).first()


def build_context(session: Session, jurisdiction: Jurisdiction) -> RoutingContext:
    jid = jurisdiction.id
    catalog, calendars = load_catalog(session, jurisdiction)
    saved = current_rule_set(session, jid)
    rules = EMPTY_RULE_SET
    if saved is not None:
        try:
            rules = compile_rule_set(saved.source, catalog)
        except RuleSetError:
            # Saves validate, so only a change made around the API gets here. Routing on the
            # defaults beats failing every new case; the log says why.
            log.exception("jurisdiction %s: rule set v%s no longer compiles", jid, saved.version)
    queues = session.execute(
        sa.select(Queue.code, Queue.id, Queue.is_default).where(Queue.jurisdiction_id == jid)
    ).all()
    districts = session.execute(
        sa.select(District.code, District.geometry).where(District.jurisdiction_id == jid)
    ).all()
    departments = session.execute(
        sa.select(Department.code, Department.id).where(Department.jurisdiction_id == jid)
    ).all()
    calendars_by_id = {
        c.id: calendars[c.code]
        for c in session.scalars(
            sa.select(CalendarRecord).where(CalendarRecord.jurisdiction_id == jid)
        )
    }
    policies: dict[str, PolicyInfo] = {}
    default_policy = None
    for policy in session.scalars(sa.select(SlaPolicy).where(SlaPolicy.jurisdiction_id == jid)):
        info = PolicyInfo(
            id=policy.id,
            code=policy.code,
            calendar=calendars_by_id.get(policy.calendar_id or 0, ALWAYS_OPEN),
            first_response_minutes=policy.first_response_minutes,
            resolution_minutes=policy.resolution_minutes,
            warn_percent=policy.warn_percent,
            escalate_queue_id=policy.escalate_queue_id,
            escalate_priority=policy.escalate_priority,
        )
        policies[policy.code] = info
        if policy.is_default:
            default_policy = info
    return RoutingContext(
        jurisdiction_id=jid,
        version=jurisdiction.routing_version,
        timezone=jurisdiction.timezone,
        rules=rules,
        rule_set_version=saved.version if saved is not None else 0,
        districts=DistrictIndex((code, geometry) for code, geometry in districts),
        calendars=calendars,
        queue_ids={code: qid for code, qid, _default in queues},
        default_queue_id=next((qid for _code, qid, default in queues if default), None),
        department_ids=dict(departments),
        policies=policies,
        policies_by_id={p.id: p for p in policies.values()},
        default_policy=default_policy,
    )
