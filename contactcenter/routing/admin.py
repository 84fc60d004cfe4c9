"""City IT's edits to routing: rule sets, districts, queues, calendars, SLA policies, agents.

Every save validates against what the jurisdiction has (a rule may only name queues,
districts, calendars and policies that exist) and bumps ``Jurisdiction.routing_version``,
so every process rebuilds its compiled routing context on its next case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.routing.context import current_rule_set, load_catalog
from contactcenter.routing.geo import GeometryError, parse_districts
from contactcenter.routing.models import District, Queue, RuleSet, Strategy, agent_queues
from contactcenter.routing.rules import (
    CompiledRuleSet,
    RuleCatalog,
    RuleSetError,
    compile_rule_set,
)
from contactcenter.sla.calendar import BusinessCalendar, CalendarError
from contactcenter.sla.models import CalendarRecord, SlaPolicy


def bump_version(jurisdiction: Jurisdiction) -> None:
    jurisdiction.routing_version = Jurisdiction.routing_version + 1  # type: ignore[assignment]


def _compile(raw: Any, catalog: RuleCatalog) -> CompiledRuleSet:
    try:
        return compile_rule_set(raw, catalog)
    except RuleSetError as exc:
        raise Invalid(
            f"The rule set has {len(exc.problems)} problem(s): {exc}",
            code="invalid_rule_set",
            fields={f"{p.rule}: {p.field}": p.message for p in exc.problems},
        ) from None


def save_rule_set(
    session: Session, jurisdiction: Jurisdiction, raw: Any, agent: Agent | None
) -> RuleSet:
    """Validate ``raw`` and make it the rule set in force (a new version; old ones stay)."""
    catalog, _calendars = load_catalog(session, jurisdiction)
    compiled = _compile(raw, catalog)
    current = current_rule_set(session, jurisdiction.id)
    saved = RuleSet(
        jurisdiction_id=jurisdiction.id,
        version=(current.version if current is not None else 0) + 1,
        source=compiled.source,
        saved_by_agent_id=agent.id if agent is not None else None,
    )
    session.add(saved)
    bump_version(jurisdiction)
    session.flush()
    return saved


def _check_rules_still_valid(
    session: Session, jurisdiction: Jurisdiction, catalog: RuleCatalog, change: str
) -> None:
    current = current_rule_set(session, jurisdiction.id)
    if current is None:
        return
    try:
        compile_rule_set(current.source, catalog)
    except RuleSetError as exc:
        raise Invalid(
            f"{change} would break the rules in force; change the rules first. {exc}",
            code="breaks_rules",
            fields={f"{p.rule}: {p.field}": p.message for p in exc.problems},
        ) from None


def import_districts(session: Session, jurisdiction: Jurisdiction, data: Any) -> list[District]:
    """Replace the jurisdiction's districts with a GeoJSON FeatureCollection."""
    try:
        shapes = parse_districts(data)
    except GeometryError as exc:
        raise Invalid(
            f"The districts file has {len(exc.problems)} problem(s).",
            code="invalid_geojson",
            fields={f"problem {i + 1}": p for i, p in enumerate(exc.problems)},
        ) from None
    catalog, _calendars = load_catalog(session, jurisdiction)
    new_catalog = replace(catalog, districts=frozenset(s.code for s in shapes))
    _check_rules_still_valid(session, jurisdiction, new_catalog, "Replacing the districts")
    session.execute(sa.delete(District).where(District.jurisdiction_id == jurisdiction.id))
    districts = [
        District(
            jurisdiction_id=jurisdiction.id,
            layer=shape.layer,
            code=shape.code,
            name=shape.name,
            geometry=shape.geometry,
            min_lon=shape.bbox[0],
            min_lat=shape.bbox[1],
            max_lon=shape.bbox[2],
            max_lat=shape.bbox[3],
        )
        for shape in shapes
    ]
    session.add_all(districts)
    bump_version(jurisdiction)
    session.flush()
    return districts


Coded = TypeVar("Coded", Department, Queue, CalendarRecord, SlaPolicy)
"""The jurisdiction's records that rules and policies name by ``code``."""


def _id_by_code(
    session: Session,
    model: type[Coded],
    jurisdiction: Jurisdiction,
    code: str | None,
    *,
    what: str,
    field: str,
) -> int | None:
    """The id of ``code`` in this jurisdiction; None for no code; Invalid for an unknown one."""
    if code is None:
        return None
    found = session.scalar(
        sa.select(model.id).where(model.jurisdiction_id == jurisdiction.id, model.code == code)
    )
    if found is None:
        raise Invalid(f'Unknown {what} "{code}".', code=f"unknown_{what}", fields={field: code})
    return found


def _record(session: Session, model: type[Coded], jurisdiction: Jurisdiction, code: str) -> Coded:
    """The record saved under ``code``, or a new one (a PUT creates or replaces)."""
    record = session.scalars(
        sa.select(model).where(model.jurisdiction_id == jurisdiction.id, model.code == code)
    ).one_or_none()
    if record is None:
        record = model(jurisdiction_id=jurisdiction.id, code=code)
        session.add(record)
    return record


def _only_default(
    session: Session, model: type[Queue] | type[SlaPolicy], jurisdiction: Jurisdiction, code: str
) -> None:
    """``code`` becomes the jurisdiction's one default: the others stop being it."""
    session.execute(
        sa.update(model)
        .where(model.jurisdiction_id == jurisdiction.id, model.code != code)
        .values(is_default=False)
    )


def save_queue(
    session: Session,
    jurisdiction: Jurisdiction,
    code: str,
    *,
    name: str,
    department: str | None = None,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    offer_timeout_seconds: int = 60,
    is_default: bool = False,
    is_supervisor: bool = False,
    service_targets: Mapping[str, Mapping[str, int]] | None = None,
) -> Queue:
    """Create or replace queue ``code``; ``service_targets`` None keeps the queue's targets."""
    queue = _record(session, Queue, jurisdiction, code)
    queue.name = name
    queue.department_id = _id_by_code(
        session, Department, jurisdiction, department, what="department", field="department"
    )
    queue.strategy = strategy
    queue.offer_timeout_seconds = offer_timeout_seconds
    queue.is_supervisor = is_supervisor
    if service_targets is not None:
        queue.service_targets = {k: dict(v) for k, v in service_targets.items()}
    if is_default:
        _only_default(session, Queue, jurisdiction, code)
    queue.is_default = is_default
    bump_version(jurisdiction)
    session.flush()
    return queue


def save_calendar(
    session: Session, jurisdiction: Jurisdiction, code: str, *, name: str, config: Mapping[str, Any]
) -> CalendarRecord:
    try:
        BusinessCalendar.from_config(config, default_timezone=jurisdiction.timezone)
    except CalendarError as exc:
        raise Invalid(str(exc), code="invalid_calendar", fields={"config": str(exc)}) from None
    record = _record(session, CalendarRecord, jurisdiction, code)
    record.name = name
    record.config = dict(config)
    bump_version(jurisdiction)
    session.flush()
    return record


def save_sla_policy(
    session: Session,
    jurisdiction: Jurisdiction,
    code: str,
    *,
    name: str,
    calendar: str | None = None,
    first_response_minutes: int | None = None,
    resolution_minutes: int | None = None,
    warn_percent: int = 80,
    escalate_queue: str | None = None,
    escalate_priority: str | None = None,
    is_default: bool = False,
) -> SlaPolicy:
    calendar_id = _id_by_code(
        session, CalendarRecord, jurisdiction, calendar, what="calendar", field="calendar"
    )
    if first_response_minutes is None and resolution_minutes is None:
        raise Invalid(
            "A policy needs a first-response or a resolution target.",
            code="no_targets",
            fields={"resolution_minutes": "required if first_response_minutes is not set"},
        )
    policy = _record(session, SlaPolicy, jurisdiction, code)
    policy.name = name
    policy.calendar_id = calendar_id
    policy.first_response_minutes = first_response_minutes
    policy.resolution_minutes = resolution_minutes
    policy.warn_percent = warn_percent
    policy.escalate_queue_id = _id_by_code(
        session, Queue, jurisdiction, escalate_queue, what="queue", field="escalate_queue"
    )
    policy.escalate_priority = escalate_priority
    if is_default:
        _only_default(session, SlaPolicy, jurisdiction, code)
    policy.is_default = is_default
    bump_version(jurisdiction)
    session.flush()
    return policy


def update_agent_routing(
    session: Session,
    agent: Agent,
    jurisdiction_ids: Sequence[int],
    *,
    skills: list[str] | None = None,
    languages: list[str] | None = None,
    capacity: dict[str, int] | None = None,
    queues: list[str] | None = None,
    departments: list[str] | None = None,
    phone: str | None = None,
    voice_device: str | None = None,
) -> Agent:
    """Skills, languages, capacity per channel, departments, queues and where calls ring."""
    if skills is not None:
        agent.skills = sorted(set(skills))
    if languages is not None:
        agent.languages = list(dict.fromkeys(languages))
    if capacity is not None:
        agent.capacity = {**(agent.capacity or {}), **capacity}
    if queues is not None:
        found = session.scalars(
            sa.select(Queue).where(
                Queue.jurisdiction_id.in_(jurisdiction_ids), Queue.code.in_(queues)
            )
        ).all()
        missing = sorted(set(queues) - {q.code for q in found})
        if missing:
            raise Invalid(
                f"Unknown queue(s): {', '.join(missing)}.",
                code="unknown_queue",
                fields={"queues": ", ".join(missing)},
            )
        keep = [
            q for q in _agent_queues(session, agent) if q.jurisdiction_id not in jurisdiction_ids
        ]
        _set_agent_queues(session, agent, keep + list(found))
    if departments is not None:
        _set_departments(session, agent, jurisdiction_ids, departments)
    if phone is not None:
        agent.phone = phone
    if voice_device is not None:
        agent.voice_device = voice_device
    if agent.voice_device == "phone" and not agent.phone:
        raise Invalid(
            "Calls can only ring the agent's phone once it is set.",
            code="phone_required",
            fields={"voice_device": "needs a phone"},
        )
    session.flush()
    return agent


def _set_departments(
    session: Session, agent: Agent, jurisdiction_ids: Sequence[int], codes: list[str]
) -> None:
    chosen = session.scalars(
        sa.select(Department).where(
            Department.jurisdiction_id.in_(jurisdiction_ids), Department.code.in_(codes)
        )
    ).all()
    missing = sorted(set(codes) - {d.code for d in chosen})
    if missing:
        raise Invalid(
            f"Unknown department(s): {', '.join(missing)}.",
            code="unknown_department",
            fields={"departments": ", ".join(missing)},
        )
    others = [d for d in agent.departments if d.jurisdiction_id not in jurisdiction_ids]
    agent.departments = others + list(chosen)


def _agent_queues(session: Session, agent: Agent) -> list[Queue]:
    return list(
        session.scalars(
            sa.select(Queue)
            .join(agent_queues, agent_queues.c.queue_id == Queue.id)
            .where(agent_queues.c.agent_id == agent.id)
        )
    )


def _set_agent_queues(session: Session, agent: Agent, queues: list[Queue]) -> None:
    session.execute(sa.delete(agent_queues).where(agent_queues.c.agent_id == agent.id))
    if queues:
        session.execute(
            sa.insert(agent_queues),
            [{"agent_id": agent.id, "queue_id": q.id} for q in {q.id: q for q in queues}.values()],
        )
