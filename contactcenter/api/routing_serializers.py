"""JSON shapes of queues, offers and work items (staff only)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.api.serializers import iso_time
from contactcenter.messages import Channel
from contactcenter.performance.targets import service_target
from contactcenter.routing.models import Offer, Queue, WorkItem, agent_queues
from contactcenter.routing.work import queue_snapshot


def queue_json(session: Session, queue: Queue) -> dict[str, Any]:
    snapshot = queue_snapshot(session, queue)
    return {
        "code": queue.code,
        "name": queue.name,
        "department": queue.department.code if queue.department else None,
        "strategy": str(queue.strategy),
        "offer_timeout_seconds": queue.offer_timeout_seconds,
        "is_default": queue.is_default,
        "is_supervisor": queue.is_supervisor,
        "service_targets": effective_targets(queue.service_targets),
        **snapshot,
        "oldest_waiting_at": iso_time(snapshot["oldest_waiting_at"]),  # type: ignore[arg-type]
    }


def effective_targets(stored: Any) -> dict[str, dict[str, Any]]:
    """Every channel's service-level target in force, and whether it is the queue's own
    (``"source": "queue"``; a part of it that makes no sense still takes the default) or the
    default (``"default"``)."""
    own = stored if isinstance(stored, dict) else {}
    return {
        channel.value: {
            **service_target(own, channel.value).as_dict(),
            "source": "queue" if isinstance(own.get(channel.value), dict) else "default",
        }
        for channel in Channel
    }


def work_json(item: WorkItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "case_id": item.case_id,
        "kind": str(item.kind),
        "channel": str(item.channel),
        "queue": item.queue.code,
        "priority": item.priority,
        "required_skills": item.required_skills,
        "language": item.language,
        "state": str(item.state),
        "agent_id": item.agent_id,
        "created_at": iso_time(item.created_at),
        "assigned_at": iso_time(item.assigned_at),
        "completed_at": iso_time(item.completed_at),
    }


def offer_json(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "state": str(offer.state),
        "expires_at": iso_time(offer.expires_at),
        "work": work_json(offer.work_item),
    }


def queue_codes(session: Session, agent_ids: list[int]) -> dict[int, list[str]]:
    """Each agent's queue codes, in one query for any number of agents."""
    codes: dict[int, list[str]] = {agent_id: [] for agent_id in agent_ids}
    rows = session.execute(
        sa.select(agent_queues.c.agent_id, Queue.code)
        .join(Queue, Queue.id == agent_queues.c.queue_id)
        .where(agent_queues.c.agent_id.in_(agent_ids))
        .order_by(Queue.code)
    )
    for agent_id, code in rows:
        codes[agent_id].append(code)
    return codes


def agent_routing_json(agent: Agent, queues: list[str]) -> dict[str, Any]:
    return {
        "skills": agent.skills,
        "capacity": {channel.value: agent.capacity_for(channel.value) for channel in Channel},
        "presence": str(agent.presence),
        "presence_since": iso_time(agent.presence_changed_at),
        "queues": queues,
        "departments": [d.code for d in agent.departments],
        "phone": agent.phone,
        "voice_device": agent.voice_device,
    }
