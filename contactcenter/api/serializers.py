"""JSON shapes of the staff API. Only staff ever see these; public APIs have their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from contactcenter.agents.models import Agent
from contactcenter.calls.models import Call
from contactcenter.cases.models import Case, CaseEvent, Interaction
from contactcenter.sla.models import CaseClock


def iso_time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "email": agent.email,
        "role": str(agent.role),
        "languages": agent.languages,
        "jurisdictions": [j.slug for j in agent.jurisdictions],
    }


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "tracking_number": case.tracking_number,
        "jurisdiction": case.jurisdiction.slug,
        "status": str(case.status),
        "priority": str(case.priority),
        "service_type": case.service_type.as_dict() if case.service_type else None,
        "department": (
            {"code": case.department.code, "name": case.department.name}
            if case.department
            else None
        ),
        "assigned_agent": (
            {"id": case.assigned_agent.id, "name": case.assigned_agent.name}
            if case.assigned_agent
            else None
        ),
        "origin_channel": str(case.origin_channel),
        "language": case.language,
        "description": case.description,
        "address": case.address_text,
        "latitude": case.latitude,
        "longitude": case.longitude,
        "awaiting": str(case.awaiting) if case.awaiting else None,
        "routing_rule": case.routing_rule,
        "duplicate_status": str(case.duplicate_status) if case.duplicate_status else None,
        "duplicate_of_id": case.duplicate_of_id,
        "incident_id": case.incident_id,
        "due_at": iso_time(case.due_at),
        "created_at": iso_time(case.created_at),
        "updated_at": iso_time(case.updated_at),
        "resolved_at": iso_time(case.resolved_at),
        "closed_at": iso_time(case.closed_at),
    }


def interaction_json(interaction: Interaction) -> dict[str, Any]:
    return {
        "id": interaction.id,
        "channel": str(interaction.channel),
        "direction": str(interaction.direction),
        "from": interaction.from_address,
        "to": interaction.to_address,
        "body": interaction.body,
        "media_urls": interaction.media_urls,
        "delivery_status": str(interaction.delivery_status),
        "error_code": interaction.error_code or None,
        "agent_id": interaction.agent_id,
        "created_at": iso_time(interaction.created_at),
    }


def call_brief(call: Call) -> dict[str, Any]:
    """What a case's timeline shows of a call; the rest is at ``/calls/<id>``."""
    return {
        "id": call.id,
        "outcome": str(call.outcome),
        "duration_seconds": call.duration_seconds,
        "wait_seconds": call.wait_seconds,
        "recording_url": call.recording_url or None,
    }


def event_json(event: CaseEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "actor": event.actor,
        "agent_id": event.actor_agent_id,
        "data": event.data,
        "created_at": iso_time(event.created_at),
    }


def clock_json(clock: CaseClock | None) -> dict[str, Any] | None:
    if clock is None:
        return None
    return {
        "policy": clock.policy.code,
        "first_response_due_at": iso_time(clock.first_response_due_at),
        "first_response_at": iso_time(clock.first_response_at),
        "resolution_due_at": iso_time(clock.resolution_due_at),
        "paused": clock.paused_at is not None,
        "stopped": clock.stopped_at is not None,
        "warned": clock.warned,
        "breached": clock.breached,
    }


def case_detail(
    case: Case,
    interactions: Sequence[Interaction],
    events: Sequence[CaseEvent],
    clock: CaseClock | None = None,
    calls: Iterable[Call] = (),
) -> dict[str, Any]:
    """``calls``: those of the case's voice interactions, shown on them (null on the rest)."""
    resident = case.resident
    call_of = {call.interaction_id: call for call in calls}
    return {
        **case_summary(case),
        "sla": clock_json(clock),
        "resident": (
            {
                "id": resident.id,
                "display_name": resident.display_name,
                "preferred_language": resident.preferred_language,
                "sms_opted_out": resident.sms_opted_out,
                "contact_points": [
                    {"kind": str(c.kind), "address": c.address, "is_valid": c.is_valid}
                    for c in resident.contact_points
                ],
            }
            if resident
            else None
        ),
        "interactions": [
            {
                **interaction_json(i),
                "call": call_brief(call_of[i.id]) if i.id in call_of else None,
            }
            for i in interactions
        ],
        "events": [event_json(e) for e in events],
    }
