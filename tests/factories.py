"""Test data factories: plain functions that take a session and return saved objects."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.auth import hash_password, issue_token
from contactcenter.cases.models import Case, CaseStatus, Interaction
from contactcenter.cases.service import open_case
from contactcenter.jurisdictions.models import ChannelAddress, Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.residents.models import Resident
from contactcenter.routing.models import Queue, WorkItem, WorkKind, agent_queues
from contactcenter.routing.work import Target, enqueue_work

_seq = itertools.count(1)


def make_jurisdiction(
    session: Session,
    *,
    slug: str | None = None,
    name: str = "Springfield",
    sms_number: str | None = None,
    languages: list[str] | None = None,
    country: str = "CA",
) -> Jurisdiction:
    """A jurisdiction with an SMS number, a default 3-1-1 department and two service types."""
    n = next(_seq)
    jurisdiction = Jurisdiction(
        slug=slug or f"city-{n}",
        name=name,
        timezone="America/Toronto",
        country=country,
        languages=languages or ["en", "fr", "es"],
    )
    session.add(jurisdiction)
    session.flush()
    session.add(
        ChannelAddress(
            jurisdiction_id=jurisdiction.id,
            channel=Channel.SMS,
            address=sms_number or f"+1613777{n:04d}",
        )
    )
    contact_centre = Department(
        jurisdiction_id=jurisdiction.id, code="311", name="3-1-1", is_default=True
    )
    public_works = Department(jurisdiction_id=jurisdiction.id, code="PW", name="Public Works")
    sanitation = Department(jurisdiction_id=jurisdiction.id, code="SAN", name="Sanitation")
    session.add_all([contact_centre, public_works, sanitation])
    session.flush()
    session.add_all(
        [
            ServiceType(
                jurisdiction_id=jurisdiction.id,
                code="pothole",
                name="Pothole",
                group="Streets",
                department_id=public_works.id,
                target_days=5,
                keywords=["pothole", "nid de poule", "bache"],
            ),
            ServiceType(
                jurisdiction_id=jurisdiction.id,
                code="missed-pickup",
                name="Missed pickup",
                group="Waste",
                department_id=sanitation.id,
                target_days=2,
                keywords=["garbage", "trash", "recycling", "ordures"],
            ),
        ]
    )
    session.flush()
    return jurisdiction


def sms_number(session: Session, jurisdiction: Jurisdiction) -> str:
    from contactcenter.jurisdictions.service import owned_address

    number = owned_address(session, jurisdiction.id, Channel.SMS)
    assert number is not None
    return number


def make_agent(
    session: Session,
    jurisdictions: list[Jurisdiction],
    *,
    role: Role = Role.AGENT,
    password: str = "correct horse battery",
    **fields: Any,
) -> tuple[Agent, str]:
    """An agent and a bearer token for them."""
    n = next(_seq)
    agent = Agent(
        email=fields.pop("email", f"agent{n}@city.example"),
        name=fields.pop("name", f"Agent {n}"),
        role=role,
        password_hash=hash_password(password),
        jurisdictions=jurisdictions,
        **fields,
    )
    session.add(agent)
    session.flush()
    return agent, issue_token(session, agent, name="test")


def make_case(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    description: str = "Pothole at 12 Main St",
    status: CaseStatus = CaseStatus.NEW,
    resident: Resident | None = None,
    channel: Channel = Channel.SMS,
    **fields: Any,
) -> Case:
    case = open_case(
        session,
        jurisdiction=jurisdiction,
        resident=resident,
        channel=channel,
        description=description,
        service_type=fields.pop("service_type", None),
        department=fields.pop("department", None),
        address_text=fields.pop("address_text", "12 Main St"),
    )
    case.status = status
    for key, value in fields.items():
        setattr(case, key, value)
    session.flush()
    return case


def queue_sms(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    body: str = "hello",
    to: str = "+16135550100",
    resident: Resident | None = None,
) -> Interaction:
    """An outbound SMS queued for delivery (the job leaves when the session commits)."""
    from contactcenter.outbound import queue_message

    return queue_message(
        session,
        jurisdiction_id=jurisdiction.id,
        channel=Channel.SMS,
        to_address=to,
        from_address=sms_number(session, jurisdiction),
        body=body,
        resident=resident,
    )


def make_queue(
    session: Session, jurisdiction: Jurisdiction, code: str = "general", **fields: Any
) -> Queue:
    queue = Queue(
        jurisdiction_id=jurisdiction.id, code=code, name=fields.pop("name", code), **fields
    )
    session.add(queue)
    session.flush()
    return queue


def make_available_agent(
    session: Session,
    jurisdiction: Jurisdiction,
    queues: list[Queue],
    *,
    presence: Presence = Presence.AVAILABLE,
    **fields: Any,
) -> tuple[Agent, str]:
    """An agent in ``queues``, available unless told otherwise, and a token for them."""
    agent, token = make_agent(session, [jurisdiction], presence=presence, **fields)
    if queues:
        session.execute(
            sa.insert(agent_queues), [{"agent_id": agent.id, "queue_id": q.id} for q in queues]
        )
    session.flush()
    return agent, token


def make_work(
    session: Session,
    jurisdiction: Jurisdiction,
    queue: Queue,
    *,
    case: Case | None = None,
    channel: Channel = Channel.SMS,
    priority: int = 1,
    skills: tuple[str, ...] = (),
    language: str | None = None,
    targets: list[Target] | None = None,
    created_at: dt.datetime | None = None,
) -> WorkItem:
    if case is None:
        case = make_case(session, jurisdiction, channel=channel)
    return enqueue_work(
        session,
        jurisdiction_id=jurisdiction.id,
        case=case,
        kind=WorkKind.FIRST_RESPONSE,
        channel=channel,
        targets=targets or [Target(queue.id, None)],
        priority=priority,
        skills=skills,
        language=language,
        now=created_at,
    )


def service_type(
    session: Session, jurisdiction: Jurisdiction, code: str = "pothole"
) -> ServiceType:
    """One of the service types ``make_jurisdiction`` creates."""
    return session.scalars(
        sa.select(ServiceType).where(
            ServiceType.jurisdiction_id == jurisdiction.id, ServiceType.code == code
        )
    ).one()
