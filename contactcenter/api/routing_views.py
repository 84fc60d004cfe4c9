"""Staff API for routing (``/api/v1/routing``), agents' presence and the work they take.

City IT (admin) edits rules, districts, queues, calendars and SLA policies; supervisors set
agents' skills, capacity and queues and watch the queues; agents set their presence and
accept, decline, pull and complete work.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import request
from sqlalchemy.orm import Session, selectinload

from contactcenter.agents.models import Agent, PresenceChange, Role
from contactcenter.api import routing_schemas as rs
from contactcenter.api import schemas
from contactcenter.api.routing_serializers import (
    agent_routing_json,
    offer_json,
    queue_codes,
    queue_json,
    work_json,
)
from contactcenter.api.serializers import agent_json, case_summary
from contactcenter.api.views import bp
from contactcenter.auth import current_agent, jurisdiction_ids, require_staff, staff_jurisdiction
from contactcenter.calls.queueing import work_assigned
from contactcenter.cases.queries import MAX_ID, get_case, lock_case
from contactcenter.cases.service import wait_on_resident
from contactcenter.chats.service import chat_work_completed
from contactcenter.chats.service import work_assigned as chat_assigned
from contactcenter.db import get_session
from contactcenter.errors import Forbidden, Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.residents.models import Resident
from contactcenter.routing import admin
from contactcenter.routing.context import current_rule_set, routing_context
from contactcenter.routing.models import District, Offer, OfferState, Queue, WorkItem, WorkState
from contactcenter.routing.presence import set_presence
from contactcenter.routing.rules import CaseFacts
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.service import case_facts, dry_run
from contactcenter.routing.work import accept_offer, claim_next, complete_work, decline_offer
from contactcenter.sla.models import CalendarRecord, SlaPolicy


def _body() -> Any:
    return request.get_json(silent=True)


def _jurisdiction() -> Jurisdiction:
    return staff_jurisdiction(get_session(), request.args.get("jurisdiction"))


@bp.get("/routing/rules")
@require_staff(Role.SUPERVISOR)
def rules_show() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    saved = current_rule_set(get_session(), jurisdiction.id)
    return {
        "data": saved.source if saved is not None else {"rules": [], "default": {}},
        "version": saved.version if saved is not None else 0,
    }


@bp.put("/routing/rules")
@require_staff(Role.ADMIN)
def rules_save() -> dict[str, Any]:
    session = get_session()
    saved = admin.save_rule_set(session, _jurisdiction(), _body(), current_agent())
    session.commit()
    return {"data": saved.source, "version": saved.version}


@bp.post("/routing/dry-run")
@require_staff()
def routing_dry_run() -> dict[str, Any]:
    body = schemas.parse(rs.DryRun, _body())
    session = get_session()
    if body.case is not None:
        case = get_case(session, jurisdiction_ids(), body.case)
        jurisdiction = case.jurisdiction
        facts = case_facts(case, routing_context(session, jurisdiction), body.at)
    else:
        jurisdiction = _jurisdiction()
        context = routing_context(session, jurisdiction)
        service_type = next(
            (
                st
                for st in _service_types(session, jurisdiction.id)
                if body.service_type is not None and st[0] == body.service_type
            ),
            None,
        )
        districts: tuple[str, ...] = ()
        if body.latitude is not None and body.longitude is not None:
            districts = context.districts.containing(body.latitude, body.longitude)
        facts = CaseFacts(
            service_type=body.service_type,
            service_group=service_type[1] if service_type else None,
            channel=str(body.channel),
            language=body.language,
            priority=str(body.priority),
            description=body.description,
            resident_flags=frozenset(body.resident_flags),
            districts=frozenset(districts),
            at=body.at,
        )
    return {"data": dry_run(session, jurisdiction, facts)}


def _service_types(session: Session, jurisdiction_id: int) -> list[tuple[str, str]]:
    return [
        (code, group)
        for code, group in session.execute(
            sa.select(ServiceType.code, ServiceType.group).where(
                ServiceType.jurisdiction_id == jurisdiction_id
            )
        )
    ]


@bp.get("/routing/districts")
@require_staff()
def districts_index() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    rows = get_session().scalars(
        sa.select(District)
        .where(District.jurisdiction_id == jurisdiction.id)
        .order_by(District.code)
    )
    return {
        "data": [
            {
                "code": d.code,
                "name": d.name,
                "layer": d.layer,
                "bbox": [d.min_lon, d.min_lat, d.max_lon, d.max_lat],
            }
            for d in rows
        ]
    }


@bp.put("/routing/districts")
@require_staff(Role.ADMIN)
def districts_import() -> dict[str, Any]:
    session = get_session()
    districts = admin.import_districts(session, _jurisdiction(), _body())
    session.commit()
    return {"imported": len(districts), "codes": sorted(d.code for d in districts)}


@bp.get("/routing/queues")
@require_staff(Role.SUPERVISOR)
def queues_index() -> dict[str, Any]:
    session = get_session()
    jurisdiction = _jurisdiction()
    queues = session.scalars(
        sa.select(Queue).where(Queue.jurisdiction_id == jurisdiction.id).order_by(Queue.code)
    ).all()
    return {"data": [queue_json(session, q) for q in queues]}


@bp.put("/routing/queues/<code>")
@require_staff(Role.ADMIN)
def queue_save(code: str) -> dict[str, Any]:
    _check_code(code)
    body = schemas.parse(rs.QueueBody, _body())
    session = get_session()
    queue = admin.save_queue(
        session,
        _jurisdiction(),
        code,
        **body.model_dump(exclude={"service_targets"}),
        service_targets=body.targets_json(),
    )
    session.commit()
    return {"data": queue_json(session, queue)}


@bp.get("/routing/queues/<code>/items")
@require_staff(Role.SUPERVISOR)
def queue_items(code: str) -> dict[str, Any]:
    session = get_session()
    jurisdiction = _jurisdiction()
    queue = session.scalars(
        sa.select(Queue).where(Queue.jurisdiction_id == jurisdiction.id, Queue.code == code)
    ).one_or_none()
    if queue is None:
        raise NotFound(f'No queue "{code}".', code="queue_not_found")
    items = session.scalars(
        sa.select(WorkItem)
        .where(
            WorkItem.queue_id == queue.id,
            WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED, WorkState.ASSIGNED)),
        )
        .order_by(WorkItem.priority.desc(), WorkItem.created_at, WorkItem.id)
        .limit(200)
    ).all()
    return {"data": [work_json(i) for i in items]}


def _check_code(code: str) -> None:
    if not re.match(rs.CODE, code):
        raise Invalid(
            "A code is 1-32 letters, digits, '-', '_' or '.'.",
            code="bad_code",
            fields={"code": code},
        )


@bp.get("/routing/calendars")
@require_staff(Role.SUPERVISOR)
def calendars_index() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    rows = get_session().scalars(
        sa.select(CalendarRecord)
        .where(CalendarRecord.jurisdiction_id == jurisdiction.id)
        .order_by(CalendarRecord.code)
    )
    return {"data": [{"code": c.code, "name": c.name, "config": c.config} for c in rows]}


@bp.put("/routing/calendars/<code>")
@require_staff(Role.ADMIN)
def calendar_save(code: str) -> dict[str, Any]:
    _check_code(code)
    body = schemas.parse(rs.CalendarBody, _body())
    session = get_session()
    record = admin.save_calendar(session, _jurisdiction(), code, name=body.name, config=body.config)
    session.commit()
    return {"data": {"code": record.code, "name": record.name, "config": record.config}}


@bp.get("/routing/sla-policies")
@require_staff(Role.SUPERVISOR)
def sla_policies_index() -> dict[str, Any]:
    jurisdiction = _jurisdiction()
    rows = get_session().scalars(
        sa.select(SlaPolicy)
        .where(SlaPolicy.jurisdiction_id == jurisdiction.id)
        .order_by(SlaPolicy.code)
    )
    return {"data": [_policy_json(p) for p in rows]}


def _policy_json(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "code": policy.code,
        "name": policy.name,
        "calendar": policy.calendar.code if policy.calendar else None,
        "first_response_minutes": policy.first_response_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "warn_percent": policy.warn_percent,
        "escalate_priority": policy.escalate_priority,
        "is_default": policy.is_default,
    }


@bp.put("/routing/sla-policies/<code>")
@require_staff(Role.ADMIN)
def sla_policy_save(code: str) -> dict[str, Any]:
    _check_code(code)
    body = schemas.parse(rs.SlaPolicyBody, _body())
    session = get_session()
    fields = body.model_dump()
    if body.escalate_priority is not None:
        fields["escalate_priority"] = str(body.escalate_priority)
    policy = admin.save_sla_policy(session, _jurisdiction(), code, **fields)
    session.commit()
    return {"data": _policy_json(policy)}


def _staff_agent(agent_id: int) -> Agent:
    """An agent who works for one of the caller's jurisdictions (404 otherwise)."""
    session = get_session()
    # A larger id is out of range for the database column: no such agent, not a 500.
    agent = session.get(Agent, agent_id) if 1 <= agent_id <= MAX_ID else None
    mine = set(jurisdiction_ids())
    if agent is None or not mine & {j.id for j in agent.jurisdictions}:
        raise NotFound("No such agent.", code="agent_not_found")
    return agent


def _self_or_supervisor(agent_id: int) -> Agent:
    me = current_agent()
    if agent_id == me.id:
        return me
    if not me.has_role(Role.SUPERVISOR):
        raise Forbidden("Only supervisors change other agents.", code="role_required")
    return _staff_agent(agent_id)


@bp.get("/agents")
@require_staff(Role.SUPERVISOR)
def agents_index() -> dict[str, Any]:
    session = get_session()
    agents = session.scalars(
        sa.select(Agent)
        .where(Agent.jurisdictions.any(Jurisdiction.id.in_(jurisdiction_ids())))
        .options(selectinload(Agent.jurisdictions), selectinload(Agent.departments))
        .order_by(Agent.name, Agent.id)
        .limit(1000)
    ).all()
    codes = queue_codes(session, [a.id for a in agents])
    return {"data": [{**agent_json(a), **agent_routing_json(a, codes[a.id])} for a in agents]}


@bp.patch("/agents/<int:agent_id>/routing")
@require_staff(Role.SUPERVISOR)
def agent_routing(agent_id: int) -> dict[str, Any]:
    body = schemas.parse(rs.AgentRouting, _body())
    session = get_session()
    agent = _staff_agent(agent_id)
    jurisdiction = _jurisdiction()
    if jurisdiction not in agent.jurisdictions:
        raise NotFound("No such agent in this jurisdiction.", code="agent_not_found")
    admin.update_agent_routing(
        session,
        agent,
        [jurisdiction.id],
        skills=body.skills,
        languages=body.languages,
        capacity=body.capacity_json(),
        queues=body.queues,
        departments=body.departments,
        phone=body.phone,
        voice_device=body.voice_device,
    )
    schedule_dispatch(session, [jurisdiction.id])
    session.commit()
    codes = queue_codes(session, [agent.id])
    return {"data": {**agent_json(agent), **agent_routing_json(agent, codes[agent.id])}}


@bp.put("/agents/<int:agent_id>/presence")
@require_staff()
def agent_presence(agent_id: int) -> dict[str, Any]:
    body = schemas.parse(rs.PresenceBody, _body())
    session = get_session()
    agent = _self_or_supervisor(agent_id)
    me = current_agent()
    set_presence(
        session, agent, body.presence, by=me if me.id != agent.id else None, reason=body.reason
    )
    session.commit()
    return {
        "data": {"presence": str(agent.presence), "since": agent.presence_changed_at.isoformat()}
    }


@bp.get("/agents/<int:agent_id>/presence")
@require_staff()
def agent_presence_history(agent_id: int) -> dict[str, Any]:
    agent = _self_or_supervisor(agent_id)
    rows = get_session().scalars(
        sa.select(PresenceChange)
        .where(PresenceChange.agent_id == agent.id)
        .order_by(PresenceChange.created_at.desc(), PresenceChange.id.desc())
        .limit(500)
    )
    return {
        "presence": str(agent.presence),
        "history": [
            {
                "presence": c.presence,
                "previous": c.previous,
                "by": c.changed_by_agent_id,
                "reason": c.reason,
                "at": c.created_at.isoformat(),
            }
            for c in rows
        ],
    }


@bp.get("/work/offers")
@require_staff()
def my_offers() -> dict[str, Any]:
    session = get_session()
    offers = session.scalars(
        sa.select(Offer)
        .where(Offer.agent_id == current_agent().id, Offer.state == OfferState.PENDING)
        .options(selectinload(Offer.work_item).selectinload(WorkItem.queue))
        .order_by(Offer.created_at)
        .limit(100)
    ).all()
    return {"data": [offer_json(o) for o in offers]}


@bp.post("/work/offers/<int:offer_id>/accept")
@require_staff()
def offer_accept(offer_id: int) -> dict[str, Any]:
    session = get_session()
    agent = current_agent()
    item = accept_offer(session, offer_id, agent)
    work_assigned(session, item, agent)  # a call: ring the agent once this commits
    chat_assigned(session, item, agent)  # a chat: the resident hears who joined
    session.commit()
    return {"data": work_json(item)}


@bp.post("/work/offers/<int:offer_id>/decline")
@require_staff()
def offer_decline(offer_id: int) -> dict[str, Any]:
    session = get_session()
    item = decline_offer(session, offer_id, current_agent())
    schedule_dispatch(session, [item.jurisdiction_id])
    session.commit()
    return {"data": work_json(item)}


@bp.get("/work")
@require_staff()
def my_work() -> dict[str, Any]:
    items = (
        get_session()
        .scalars(
            sa.select(WorkItem)
            .where(WorkItem.agent_id == current_agent().id, WorkItem.state == WorkState.ASSIGNED)
            .order_by(WorkItem.assigned_at)
            .limit(200)
        )
        .all()
    )
    return {"data": [work_json(i) for i in items]}


@bp.post("/work/next")
@require_staff()
def work_next() -> tuple[dict[str, Any], int]:
    session = get_session()
    agent = current_agent()
    item = claim_next(session, agent)
    if item is not None:
        work_assigned(session, item, agent)
        chat_assigned(session, item, agent)
    session.commit()
    if item is None:
        return {"data": None, "message": "Nothing is waiting for you."}, 200
    return {"data": work_json(item)}, 200


@bp.post("/work/<int:item_id>/complete")
@require_staff()
def work_complete(item_id: int) -> dict[str, Any]:
    session = get_session()
    if not 1 <= item_id <= MAX_ID:
        raise NotFound("No such work assigned to you.", code="work_not_found")
    item = complete_work(session, item_id, current_agent())
    chat_work_completed(session, item)  # a chat: the resident's window hears it ended
    schedule_dispatch(session, [item.jurisdiction_id])
    session.commit()
    return {"data": work_json(item)}


@bp.post("/cases/<int:case_id>/waiting")
@require_staff()
def case_waiting(case_id: int) -> dict[str, Any]:
    session = get_session()
    case = lock_case(session, jurisdiction_ids(), case_id)
    wait_on_resident(session, case, agent=current_agent())
    session.commit()
    return {"data": case_summary(case)}


@bp.put("/residents/<int:resident_id>/flags")
@require_staff(Role.SUPERVISOR)
def resident_flags(resident_id: int) -> dict[str, Any]:
    """Markers routing rules can use (``resident_flags``), e.g. "vulnerable"."""
    body = schemas.parse(rs.ResidentFlags, _body())
    session = get_session()
    resident = session.get(Resident, resident_id) if 1 <= resident_id <= MAX_ID else None
    if resident is None or resident.jurisdiction_id not in jurisdiction_ids():
        raise NotFound("No such resident.", code="resident_not_found")
    resident.flags = sorted(set(body.flags))
    session.commit()
    return {"data": {"id": resident.id, "flags": resident.flags}}
