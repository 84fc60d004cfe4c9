"""A year of made-up closed and open requests for the demo city, so its public performance page
(``/public/demo/performance``) and Open311 lists have something to show on a fresh machine, and
eight weeks of made-up contact-center work, so the supervisor dashboard, the director's
scorecard, the forecast and the staffing calculator have something to read.

Deterministic (a fixed seed; the contact history is laid out back from the moment it is made)
and idempotent: the requests carry source keys ``demo-NNNNNN``, as imported history does, the
contacts' requests ``demo:contact-NNNNNN``, and each part is made once. They are history: no
resident, no live work, no clock. The sample agents have no password (nobody signs in as them)
and belong to no queue (no real work is ever offered to them).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, PresenceChange, Role
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import (
    Case,
    CaseStatus,
    DeliveryStatus,
    DuplicateStatus,
    Interaction,
    Priority,
)
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel, Direction
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem, WorkKind, WorkState
from contactcenter.surveys.models import Survey, SurveyState

SOURCE_PREFIX = "demo-"
DISTRICTS = ("Ward 1", "Ward 2", "Ward 3", "Ward 4")
CHANNEL_SHARES = (
    (Channel.VOICE, 45),
    (Channel.SMS, 20),
    (Channel.WEBCHAT, 12),
    (Channel.EMAIL, 10),
    (Channel.OPEN311, 10),
    (Channel.WALK_IN, 3),
)
OPEN_SHARE = 0.06
"""Requests still open, besides those too recent to have closed."""


def seed_history(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    count: int = 1500,
    now: dt.datetime | None = None,
) -> int:
    """Add ``count`` requests spread over the last year and eight weeks of contact-center work
    (each once), then recount the figures; returns how many requests were added."""
    now = now or utcnow()
    added = _seed_requests(session, jurisdiction, count=count, now=now)
    contacts = seed_contact_history(session, jurisdiction, now=now)
    if added or contacts:
        rebuild_rollups(session, jurisdiction.id)
    return added


def rebuild_rollups(session: Session, jurisdiction_id: int) -> None:
    """Recount the service and contact figures from scratch: the history bypasses the session
    events and the periodic pass that keep them."""
    from contactcenter.performance import rollup
    from contactcenter.performance.contacts import rebuild_contact_rollups

    session.flush()
    rollup.rebuild(session, jurisdiction_id)
    rebuild_contact_rollups(session, jurisdiction_id)


def _seed_requests(
    session: Session, jurisdiction: Jurisdiction, *, count: int, now: dt.datetime
) -> int:
    already = session.scalar(
        sa.select(sa.func.count())
        .select_from(Case)
        .where(Case.jurisdiction_id == jurisdiction.id, Case.source_key.like(f"{SOURCE_PREFIX}%"))
    )
    if already:
        return 0
    types = list(
        session.scalars(
            sa.select(ServiceType)
            .where(ServiceType.jurisdiction_id == jurisdiction.id, ServiceType.active.is_(True))
            .order_by(ServiceType.code)
        )
    )
    if not types:
        return 0
    rng = random.Random(311)  # noqa: S311 - sample data, not a secret
    channels = [channel for channel, _ in CHANNEL_SHARES]
    weights = [share for _, share in CHANNEL_SHARES]
    for number in range(1, count + 1):
        service = rng.choice(types)
        created = now - dt.timedelta(days=rng.uniform(0, 365))
        target = service.target_days or 10.0
        # Most close near their target, some well after it: a log-normal spread around it.
        days_to_close = rng.lognormvariate(math.log(target * 0.7), 0.8)
        closed = created + dt.timedelta(days=days_to_close)
        is_open = closed > now or rng.random() < OPEN_SHARE
        session.add(
            Case(
                jurisdiction_id=jurisdiction.id,
                tracking_number=f"H{number:07d}",
                source_key=f"{SOURCE_PREFIX}{number:06d}",
                status=CaseStatus.OPEN if is_open else CaseStatus.CLOSED,
                service_type_id=service.id,
                department_id=service.department_id,
                origin_channel=rng.choices(channels, weights)[0],
                language=jurisdiction.default_language,
                description=f"{service.name} (sample request)",
                district=rng.choice(DISTRICTS),
                due_at=created + dt.timedelta(days=target) if service.target_days else None,
                created_at=created,
                updated_at=created if is_open else closed,
                resolved_at=None if is_open else closed,
                closed_at=None if is_open else closed,
            )
        )
    session.flush()
    return count


# --- Eight weeks of contact-center work -------------------------------------------------------

CONTACT_WEEKS = 8
CONTACT_SOURCE_PREFIX = "demo:contact-"
SAMPLE_AGENTS = (
    # name, shift: (first local hour, last local hour, weekdays it works: Monday = 0)
    ("Amira Haddad", (8, 16, (0, 1, 2, 3, 4))),
    ("Ben Tremblay", (8, 16, (0, 1, 2, 3, 4))),
    ("Chloé Gagnon", (10, 18, (0, 1, 2, 3, 4))),
    ("Diego Morales", (10, 18, (0, 1, 2, 3, 4))),
    ("Grace Lee", (10, 16, (5, 6, 0))),
    ("Hugo Roy", (10, 16, (5, 6, 1))),
)
ABSENT_SHARE = 0.08
"""Shifts a sample agent misses (leave, sickness)."""

# Contacts per weekday by channel, and the share of that on a Saturday or Sunday.
WEEKDAY_CONTACTS = {Channel.VOICE: 50, Channel.SMS: 15, Channel.WEBCHAT: 12, Channel.EMAIL: 9}
WEEKEND_SHARE = {Channel.VOICE: 0.25, Channel.SMS: 0.5, Channel.WEBCHAT: 0.4, Channel.EMAIL: 0.5}
WEEKLY_GROWTH = 0.01
SELF_SERVED_SHARE = 0.2
"""Calls answered by the IVR alone, on top of those that reach the queue."""

# Arrivals by local hour (weights): a morning and an early-afternoon peak on weekdays.
_PHONE_DAY = (0, 0, 0, 0, 0, 0, 0, 1, 5, 9, 10, 9, 7, 7, 9, 8, 6, 4, 1, 0, 0, 0, 0, 0)
_PHONE_WEEKEND = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 5, 5, 4, 4, 3, 2, 0, 0, 0, 0, 0, 0, 0)
_TEXT_DAY = (0, 0, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 7, 6, 6, 6, 6, 6, 6, 5, 4, 3, 2, 1)
_MAIL_DAY = (1, 1, 0, 0, 0, 0, 1, 2, 4, 5, 5, 5, 4, 5, 5, 5, 4, 3, 3, 3, 3, 2, 2, 1)
HOURLY = {
    Channel.VOICE: (_PHONE_DAY, _PHONE_WEEKEND),
    Channel.WEBCHAT: (_PHONE_DAY, _PHONE_WEEKEND),
    Channel.SMS: (_TEXT_DAY, _TEXT_DAY),
    Channel.EMAIL: (_MAIL_DAY, _MAIL_DAY),
}
KIND = {
    Channel.VOICE: WorkKind.CALL,
    Channel.WEBCHAT: WorkKind.CHAT,
    Channel.SMS: WorkKind.FIRST_RESPONSE,
    Channel.EMAIL: WorkKind.FIRST_RESPONSE,
}
HANDLE_SECONDS = {Channel.VOICE: 300, Channel.WEBCHAT: 480, Channel.SMS: 300, Channel.EMAIL: 420}
"""Median handle time (talk or writing, and wrap-up) by channel."""
RESOLVED_ON_CONTACT = {
    Channel.VOICE: 0.62,
    Channel.WEBCHAT: 0.55,
    Channel.SMS: 0.45,
    Channel.EMAIL: 0.4,
}
TRANSFER_SHARE = 0.07
SCORES = ((5, 44), (4, 28), (3, 12), (2, 7), (1, 9))
OFFER_TIMEOUT = dt.timedelta(seconds=60)


@dataclass
class _Agent:
    id: int
    available: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    phone_free_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.min.replace(tzinfo=dt.UTC)
    )
    chats: list[dt.datetime] = field(default_factory=list)

    def available_at(self, at: dt.datetime) -> dt.datetime | None:
        """The first instant at or after ``at`` when the agent is available (None: never)."""
        for start, end in self.available:
            if at < end:
                return max(at, start)
        return None


@dataclass
class _Contact:
    number: int
    channel: Channel
    arrived: dt.datetime
    queue_id: int
    agent_id: int | None = None
    assigned: dt.datetime | None = None
    completed: dt.datetime | None = None
    talk_seconds: int | None = None
    transfers: int = 0
    callback_at: dt.datetime | None = None
    callback_reached: bool = False
    offers: list[tuple[int, OfferState, dt.datetime, dt.datetime]] = field(default_factory=list)
    case: dict[str, Any] | None = None
    resolved: bool = False


def seed_contact_history(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    weeks: int = CONTACT_WEEKS,
    now: dt.datetime | None = None,
) -> int:
    """Eight weeks (``weeks``) of sample agents' shifts and the contacts they handled, up to
    ``now`` (once); returns how many contacts were added (0 when already there)."""
    first_email = _sample_email(0)
    if session.scalar(sa.select(Agent.id).where(Agent.email == first_email)) is not None:
        return 0
    queues = {
        code: queue_id
        for code, queue_id in session.execute(
            sa.select(Queue.code, Queue.id).where(Queue.jurisdiction_id == jurisdiction.id)
        )
    }
    types = list(
        session.scalars(
            sa.select(ServiceType)
            .where(ServiceType.jurisdiction_id == jurisdiction.id, ServiceType.active.is_(True))
            .order_by(ServiceType.code)
        )
    )
    if "general" not in queues or not types:
        return 0
    streets = {
        d
        for (d,) in session.execute(
            sa.select(Queue.department_id).where(
                Queue.jurisdiction_id == jurisdiction.id, Queue.code == "streets"
            )
        )
    }
    now = now or utcnow()
    zone = ZoneInfo(jurisdiction.timezone)
    rng = random.Random(8311)  # noqa: S311 - sample data, not a secret
    today = now.astimezone(zone).date()
    days = [today - dt.timedelta(days=n) for n in range(weeks * 7, -1, -1)]

    agents = _seed_sample_agents(session, jurisdiction, days, zone, now, rng)
    contacts = _arrivals(days, zone, now, rng, queues["general"])
    for contact in contacts:
        service = rng.choice(types)
        _serve(contact, agents, now, rng)
        if (
            contact.agent_id is not None
            and service.department_id in streets
            and (contact.channel in (Channel.SMS, Channel.EMAIL))
        ):
            contact.queue_id = queues.get("streets", contact.queue_id)
        _open_case(contact, service, jurisdiction, now, rng)
    contacts = [c for c in contacts if c.completed is None or c.completed <= now]
    _insert_contacts(session, jurisdiction, contacts, now, rng)
    _insert_self_served(session, jurisdiction, days, zone, now, rng)
    return len(contacts)


def _sample_email(index: int) -> str:
    return f"sample-agent-{index + 1}@demo.example"


def _seed_sample_agents(
    session: Session,
    jurisdiction: Jurisdiction,
    days: list[dt.date],
    zone: ZoneInfo,
    now: dt.datetime,
    rng: random.Random,
) -> list[_Agent]:
    """The sample agents and their presence over the weeks: available for their shift, a
    short busy spell some days, away for lunch, offline after; offline from ``now``."""
    agents: list[_Agent] = []
    changes: list[dict[str, Any]] = []
    created = dt.datetime.combine(days[0] - dt.timedelta(days=1), dt.time(9), zone)
    for index, (name, (first_hour, last_hour, weekdays)) in enumerate(SAMPLE_AGENTS):
        record = Agent(
            email=_sample_email(index),
            name=name,
            role=Role.AGENT,
            languages=["en", "fr"] if index % 2 else ["en"],
            jurisdictions=[jurisdiction],
            created_at=created,
            presence=Presence.OFFLINE,
            presence_changed_at=created,
        )
        session.add(record)
        session.flush()
        agent = _Agent(record.id)
        steps: list[tuple[dt.datetime, Presence]] = []
        for day in days:
            if day.weekday() not in weekdays or rng.random() < ABSENT_SHARE:
                continue
            start = _at(day, first_hour, zone) + dt.timedelta(minutes=rng.uniform(-6, 4))
            end = _at(day, last_hour, zone) + dt.timedelta(minutes=rng.uniform(0, 12))
            lunch = _at(day, (first_hour + last_hour) // 2, zone) + dt.timedelta(
                minutes=rng.uniform(-20, 20)
            )
            back = lunch + dt.timedelta(minutes=rng.uniform(30, 50))
            shift = [(start, Presence.AVAILABLE)]
            if rng.random() < 0.5:
                busy = start + dt.timedelta(minutes=rng.uniform(40, 120))
                shift += [
                    (busy, Presence.BUSY),
                    (busy + dt.timedelta(minutes=rng.uniform(10, 30)), Presence.AVAILABLE),
                ]
            shift += [(lunch, Presence.AWAY), (back, Presence.AVAILABLE), (end, Presence.OFFLINE)]
            steps += shift
            agent.available += [
                (shift[i][0], shift[i + 1][0])
                for i in range(len(shift) - 1)
                if shift[i][1] == Presence.AVAILABLE
            ]
        steps = [(at, presence) for at, presence in steps if at <= now]
        if steps and steps[-1][1] != Presence.OFFLINE:
            steps.append((now, Presence.OFFLINE))  # the sample shift ends as the demo begins
        agent.available = [(a, min(b, now)) for a, b in agent.available if a < now]
        previous = Presence.OFFLINE
        for at, presence in steps:
            changes.append(
                {
                    "agent_id": record.id,
                    "presence": presence.value,
                    "previous": previous.value,
                    "reason": "sample",
                    "created_at": at,
                }
            )
            previous = presence
        if steps:
            record.presence_changed_at = steps[-1][0]
        agents.append(agent)
    if changes:
        session.execute(sa.insert(PresenceChange), changes)
    return agents


def _at(day: dt.date, hour: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), zone).astimezone(dt.UTC)


def _arrivals(
    days: list[dt.date], zone: ZoneInfo, now: dt.datetime, rng: random.Random, queue_id: int
) -> list[_Contact]:
    """Contacts arriving by channel, day and hour, growing slowly week by week."""
    contacts: list[_Contact] = []
    for index, day in enumerate(days):
        weekend = day.weekday() >= 5
        growth = 1 + WEEKLY_GROWTH * (index / 7 - len(days) / 7)
        for channel, per_day in WEEKDAY_CONTACTS.items():
            mean = per_day * growth * (WEEKEND_SHARE[channel] if weekend else 1)
            count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
            hourly = HOURLY[channel][1 if weekend else 0]
            for hour in rng.choices(range(24), hourly, k=count):
                at = _at(day, hour, zone) + dt.timedelta(seconds=rng.uniform(0, 3600))
                if at < now:
                    contacts.append(_Contact(0, channel, at, queue_id))
    contacts.sort(key=lambda c: c.arrived)
    for number, contact in enumerate(contacts, start=1):
        contact.number = number
    return contacts


def _serve(contact: _Contact, agents: list[_Agent], now: dt.datetime, rng: random.Random) -> None:
    """Who answered the contact and when, or when the resident gave up."""
    arrived = contact.arrived
    median = HANDLE_SECONDS[contact.channel]
    handle = dt.timedelta(seconds=rng.lognormvariate(math.log(median), 0.5))
    if contact.channel == Channel.VOICE:
        ring = dt.timedelta(seconds=rng.uniform(2, 8))
        options = [
            (at, agent)
            for agent in agents
            if (at := agent.available_at(max(arrived + ring, agent.phone_free_at))) is not None
        ]
        patience = dt.timedelta(
            seconds=rng.uniform(0.5, 5) if rng.random() < 0.03 else rng.expovariate(1 / 120)
        )
        # The agent who can answer first; among several, the one idle the longest.
        answer, agent = min(
            options, key=lambda o: (o[0], o[1].phone_free_at, o[1].id), default=(None, None)
        )
        if answer is None or agent is None or answer - arrived > patience:
            if rng.random() < 0.35 and answer is not None and agent is not None:
                _callback(contact, agent, answer, handle, rng)
            else:
                contact.completed = arrived + min(patience, dt.timedelta(minutes=15))
            return
        contact.talk_seconds = round(handle.total_seconds() * rng.uniform(0.7, 0.9))
        agent.phone_free_at = answer + handle
        _assign(contact, agent, answer, handle, agents, rng)
        return
    if contact.channel == Channel.WEBCHAT:
        wait = dt.timedelta(seconds=rng.lognormvariate(math.log(35), 0.7))
        options = []
        for agent in agents:
            agent.chats = [end for end in agent.chats if end > arrived]
            at = agent.available_at(arrived + wait)
            if at is not None and len(agent.chats) < 3:
                options.append((at, agent))
        answer, agent = min(
            options, key=lambda o: (o[0], len(o[1].chats), rng.random()), default=(None, None)
        )
        if answer is None or agent is None or answer - arrived > dt.timedelta(minutes=8):
            contact.completed = arrived + dt.timedelta(seconds=rng.uniform(3, 400))
            return
        agent.chats.append(answer + handle)
        _assign(contact, agent, answer, handle, agents, rng)
        return
    typical = 8 * 60 if contact.channel == Channel.SMS else 3 * 3600
    wait = dt.timedelta(seconds=rng.lognormvariate(math.log(typical), 0.8))
    options = [
        (at, agent) for agent in agents if (at := agent.available_at(arrived + wait)) is not None
    ]
    if not options:
        return  # still waiting: left out (the history has no live work)
    answer, agent = min(options, key=lambda o: o[0] + dt.timedelta(minutes=rng.uniform(0, 20)))
    _assign(contact, agent, answer, handle, agents, rng)


def _callback(
    contact: _Contact, agent: _Agent, free: dt.datetime, handle: dt.timedelta, rng: random.Random
) -> None:
    """The caller asked to be called back rather than wait: the agent calls when free."""
    contact.callback_at = contact.arrived + dt.timedelta(seconds=rng.uniform(20, 60))
    start = agent.available_at(free + dt.timedelta(minutes=rng.uniform(2, 40)))
    if start is None:
        contact.completed = contact.callback_at
        contact.callback_at = None
        return
    contact.callback_reached = rng.random() < 0.8
    talk = handle if contact.callback_reached else dt.timedelta(seconds=40)
    contact.talk_seconds = round(talk.total_seconds() * 0.8) if contact.callback_reached else None
    agent.phone_free_at = start + talk
    contact.agent_id = agent.id
    contact.assigned = start
    contact.completed = start + talk
    contact.offers.append((agent.id, OfferState.ACCEPTED, start - dt.timedelta(seconds=3), start))


def _assign(
    contact: _Contact,
    agent: _Agent,
    answer: dt.datetime,
    handle: dt.timedelta,
    agents: list[_Agent],
    rng: random.Random,
) -> None:
    contact.agent_id = agent.id
    contact.assigned = answer
    contact.completed = answer + handle
    contact.transfers = 1 if rng.random() < TRANSFER_SHARE else 0
    others = [a for a in agents if a.id != agent.id]
    waited = answer - contact.arrived
    if others and waited > OFFER_TIMEOUT + dt.timedelta(seconds=5) and rng.random() < 0.3:
        offered = contact.arrived + dt.timedelta(seconds=2)
        contact.offers.append(
            (rng.choice(others).id, OfferState.TIMED_OUT, offered, offered + OFFER_TIMEOUT)
        )
    elif others and waited > dt.timedelta(seconds=20) and rng.random() < 0.15:
        offered = contact.arrived + dt.timedelta(seconds=2)
        answered = offered + dt.timedelta(seconds=rng.uniform(3, 12))
        contact.offers.append((rng.choice(others).id, OfferState.DECLINED, offered, answered))
    offered = answer - dt.timedelta(seconds=rng.uniform(2, 9))
    contact.offers.append((agent.id, OfferState.ACCEPTED, offered, answer))


def _open_case(
    contact: _Contact,
    service: ServiceType,
    jurisdiction: Jurisdiction,
    now: dt.datetime,
    rng: random.Random,
) -> None:
    """The request the contact was about: most contacts that reached somebody have one."""
    if contact.channel == Channel.VOICE and (contact.assigned is None or rng.random() < 0.12):
        return  # a call nobody answered, or a question answered without a request
    if contact.assigned is None and contact.channel == Channel.WEBCHAT:
        return
    created = contact.arrived
    target = service.target_days or 10.0
    due = created + dt.timedelta(days=target)
    resolved = (
        contact.completed is not None
        and contact.assigned is not None
        and contact.transfers == 0
        and rng.random() < RESOLVED_ON_CONTACT[contact.channel]
    )
    if resolved:
        assert contact.completed is not None
        closed: dt.datetime | None = contact.completed
    else:
        closed = created + dt.timedelta(days=rng.lognormvariate(math.log(target * 0.6), 0.8))
        if closed > now:
            closed = None
    reopened = closed is not None and not resolved and rng.random() < 0.05
    contact.resolved = resolved and not reopened
    late = (closed or now) > due
    contact.case = {
        "jurisdiction_id": jurisdiction.id,
        "tracking_number": f"C{contact.number:07d}",
        "source_key": f"{CONTACT_SOURCE_PREFIX}{contact.number:06d}",
        "status": CaseStatus.CLOSED
        if closed
        else rng.choice((CaseStatus.OPEN, CaseStatus.IN_PROGRESS)),
        "priority": Priority.NORMAL,
        "service_type_id": service.id,
        "department_id": service.department_id,
        "assigned_agent_id": contact.agent_id,
        "origin_channel": contact.channel,
        "language": jurisdiction.default_language,
        "description": f"{service.name} (sample request)",
        "district": rng.choice(DISTRICTS),
        "due_at": due,
        "created_at": created,
        "updated_at": closed or created,
        "resolved_at": closed,
        "closed_at": closed,
        "reopened_count": 1 if reopened else 0,
        "sla_breached": late and rng.random() < 0.85,
        "duplicate_status": DuplicateStatus.CONFIRMED if rng.random() < 0.03 else None,
        "satisfaction": None,
    }


def _insert_contacts(
    session: Session,
    jurisdiction: Jurisdiction,
    contacts: list[_Contact],
    now: dt.datetime,
    rng: random.Random,
) -> None:
    """Write the contacts: requests, work, offers, messages and calls, and surveys, each
    table in one statement."""
    with_case = [c for c in contacts if c.case is not None]
    surveys = _plan_surveys(jurisdiction, with_case, now, rng)
    case_ids = _insert_returning_ids(
        session, Case, [c.case for c in with_case if c.case is not None]
    )
    case_of = {c.number: case_id for c, case_id in zip(with_case, case_ids, strict=True)}
    _mark_duplicates(session, with_case, case_ids)

    handled = [c for c in contacts if c.assigned is not None or c.channel in _ABANDONABLE]
    work_rows = [
        {
            "jurisdiction_id": jurisdiction.id,
            "case_id": case_of.get(c.number),
            "kind": KIND[c.channel],
            "channel": c.channel,
            "queue_id": c.queue_id,
            "priority": 1,
            "targets": [[c.queue_id, None]],
            "target_index": 0,
            "target_started_at": c.arrived,
            "state": WorkState.COMPLETED if c.assigned is not None else WorkState.CANCELLED,
            "agent_id": c.agent_id,
            "created_at": c.arrived,
            "assigned_at": c.assigned,
            "first_assigned_at": c.assigned,
            "completed_at": c.completed,
            "updated_at": c.completed or c.arrived,
            "transfers": c.transfers,
            "resolved_on_contact": c.resolved,
        }
        for c in handled
    ]
    work_ids = _insert_returning_ids(session, WorkItem, work_rows)
    work_of = {c.number: work_id for c, work_id in zip(handled, work_ids, strict=True)}
    offers = [
        {
            "jurisdiction_id": jurisdiction.id,
            "work_item_id": work_of[c.number],
            "agent_id": agent_id,
            "state": state,
            "created_at": offered,
            "expires_at": offered + OFFER_TIMEOUT,
            "answered_at": answered,
        }
        for c in handled
        for agent_id, state, offered, answered in c.offers
    ]
    if offers:
        session.execute(sa.insert(Offer), offers)
    _insert_messages_and_calls(session, jurisdiction, contacts, case_of, work_of, rng)
    if surveys:
        session.execute(
            sa.insert(Survey), [{**row, "case_id": case_of[number]} for number, row in surveys]
        )


_ABANDONABLE = (Channel.VOICE, Channel.WEBCHAT)


def _mark_duplicates(session: Session, with_case: list[_Contact], case_ids: Sequence[int]) -> None:
    """A confirmed duplicate points at the request filed just before it."""
    pairs = [
        {"case_id": case_id, "of": case_ids[index - 1]}
        for index, (contact, case_id) in enumerate(zip(with_case, case_ids, strict=True))
        if index and contact.case is not None and contact.case["duplicate_status"] is not None
    ]
    if pairs:
        cases = cast(sa.Table, Case.__table__)
        session.execute(
            sa.update(cases)
            .where(cases.c.id == sa.bindparam("case_id"))
            .values(duplicate_of_id=sa.bindparam("of"), updated_at=cases.c.updated_at),
            pairs,
        )


def _insert_messages_and_calls(
    session: Session,
    jurisdiction: Jurisdiction,
    contacts: list[_Contact],
    case_of: dict[int, int],
    work_of: dict[int, int],
    rng: random.Random,
) -> None:
    """The inbound message (or call) each contact was, and the calls' own rows."""
    interactions = [
        {
            "jurisdiction_id": jurisdiction.id,
            "case_id": case_of.get(c.number),
            "agent_id": c.agent_id if c.channel == Channel.VOICE else None,
            "channel": c.channel,
            "direction": Direction.INBOUND,
            "provider_id": f"demo-history-{c.channel}-{c.number}",
            "body": "(sample message)" if c.channel != Channel.VOICE else "",
            "delivery_status": DeliveryStatus.RECEIVED,
            "created_at": c.arrived,
            "updated_at": c.arrived,
            "processed_at": c.arrived,
        }
        for c in contacts
    ]
    interaction_ids = _insert_returning_ids(session, Interaction, interactions)
    calls = []
    callbacks: list[_Contact] = []
    for contact, interaction_id in zip(contacts, interaction_ids, strict=True):
        if contact.channel != Channel.VOICE:
            continue
        ivr = dt.timedelta(seconds=rng.uniform(20, 70))
        ended: dt.datetime | None
        if contact.callback_at is not None:
            # As the voice service records it: a callback that reached the resident answers
            # the call it was asked on.
            reached = contact.callback_reached
            outcome = CallOutcome.ANSWERED if reached else CallOutcome.CALLBACK_REQUESTED
            ended = contact.callback_at
            callbacks.append(contact)
        elif contact.assigned is not None:
            outcome, ended = CallOutcome.ANSWERED, contact.completed
        else:
            outcome, ended = CallOutcome.ABANDONED, contact.completed
        assert ended is not None
        answered = (
            contact.assigned
            if outcome == CallOutcome.ANSWERED and contact.callback_at is None
            else None
        )
        calls.append(
            {
                "jurisdiction_id": jurisdiction.id,
                "interaction_id": interaction_id,
                "call_sid": f"CAdemohistory{contact.number:010d}",
                "direction": Direction.INBOUND,
                "language": "en",
                "menu_path": ["1"],
                "outcome": outcome,
                "status": "completed",
                "queue_id": contact.queue_id,
                "work_item_id": work_of.get(contact.number),
                "agent_id": contact.agent_id if answered else None,
                "queued_at": contact.arrived,
                "answered_at": answered,
                "wait_seconds": round(((answered or ended) - contact.arrived).total_seconds()),
                "talk_seconds": contact.talk_seconds,
                "duration_seconds": round((ended - contact.arrived + ivr).total_seconds()),
                "callback_number": "",
                "callback_requested_at": contact.callback_at,
                "created_at": contact.arrived - ivr,
                "updated_at": ended,
                "ended_at": ended,
            }
        )
    call_ids = _insert_returning_ids(session, Call, calls)
    parent_of = {
        str(row["call_sid"]): call_id for row, call_id in zip(calls, call_ids, strict=True)
    }
    _insert_callbacks(session, jurisdiction, callbacks, parent_of, case_of)


def _insert_callbacks(
    session: Session,
    jurisdiction: Jurisdiction,
    callbacks: list[_Contact],
    parent_of: dict[str, int],
    case_of: dict[int, int],
) -> None:
    """The outbound call that returned each requested callback (reached or not)."""
    if not callbacks:
        return
    interactions = [
        {
            "jurisdiction_id": jurisdiction.id,
            "case_id": case_of.get(c.number),
            "agent_id": c.agent_id,
            "channel": Channel.VOICE,
            "direction": Direction.OUTBOUND,
            "provider_id": f"demo-history-callback-{c.number}",
            "delivery_status": DeliveryStatus.SENT,
            "created_at": c.assigned,
            "updated_at": c.completed,
        }
        for c in callbacks
    ]
    interaction_ids = _insert_returning_ids(session, Interaction, interactions)
    session.execute(
        sa.insert(Call),
        [
            {
                "jurisdiction_id": jurisdiction.id,
                "interaction_id": interaction_id,
                "call_sid": f"CAdemocallback{c.number:010d}",
                "direction": Direction.OUTBOUND,
                "parent_call_id": parent_of[f"CAdemohistory{c.number:010d}"],
                "language": "en",
                "menu_path": [],
                "outcome": CallOutcome.ANSWERED if c.callback_reached else CallOutcome.FAILED,
                "status": "completed" if c.callback_reached else "no-answer",
                "agent_id": c.agent_id,
                "answered_at": c.assigned if c.callback_reached else None,
                "talk_seconds": c.talk_seconds,
                "duration_seconds": round((c.completed - c.assigned).total_seconds())
                if c.completed and c.assigned
                else None,
                "created_at": c.assigned,
                "updated_at": c.completed,
                "ended_at": c.completed,
            }
            for c, interaction_id in zip(callbacks, interaction_ids, strict=True)
        ],
    )


def _insert_self_served(
    session: Session,
    jurisdiction: Jurisdiction,
    days: list[dt.date],
    zone: ZoneInfo,
    now: dt.datetime,
    rng: random.Random,
) -> None:
    """Calls the IVR answered alone (a recorded answer, a request's status)."""
    rows: list[tuple[dt.datetime, int]] = []
    for day in days:
        weekend = day.weekday() >= 5
        mean = WEEKDAY_CONTACTS[Channel.VOICE] * SELF_SERVED_SHARE * (0.4 if weekend else 1)
        count = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        for hour in rng.choices(range(24), HOURLY[Channel.VOICE][1 if weekend else 0], k=count):
            at = _at(day, hour, zone) + dt.timedelta(seconds=rng.uniform(0, 3600))
            if at + dt.timedelta(minutes=3) < now:
                rows.append((at, round(rng.uniform(40, 160))))
    if not rows:
        return
    interaction_ids = _insert_returning_ids(
        session,
        Interaction,
        [
            {
                "jurisdiction_id": jurisdiction.id,
                "channel": Channel.VOICE,
                "direction": Direction.INBOUND,
                "provider_id": f"demo-history-ivr-{n}",
                "delivery_status": DeliveryStatus.RECEIVED,
                "created_at": at,
                "updated_at": at,
                "processed_at": at,
            }
            for n, (at, _seconds) in enumerate(rows)
        ],
    )
    session.execute(
        sa.insert(Call),
        [
            {
                "jurisdiction_id": jurisdiction.id,
                "interaction_id": interaction_id,
                "call_sid": f"CAdemoivr{n:010d}",
                "direction": Direction.INBOUND,
                "language": "en",
                "menu_path": ["3"],
                "outcome": CallOutcome.SELF_SERVED,
                "status": "completed",
                "duration_seconds": seconds,
                "created_at": at,
                "updated_at": at + dt.timedelta(seconds=seconds),
                "ended_at": at + dt.timedelta(seconds=seconds),
            }
            for n, ((at, seconds), interaction_id) in enumerate(
                zip(rows, interaction_ids, strict=True)
            )
        ],
    )


def _plan_surveys(
    jurisdiction: Jurisdiction, with_case: list[_Contact], now: dt.datetime, rng: random.Random
) -> list[tuple[int, dict[str, Any]]]:
    """Surveys after most closed requests (by contact number), the answers put on the
    requests: about a third answered (happier when the first contact settled it), the rest
    expired, still open, or not sent (opted out)."""
    surveys: list[tuple[int, dict[str, Any]]] = []
    for contact in with_case:
        case = contact.case
        if case is None or case["closed_at"] is None or rng.random() < 0.3:
            continue
        sent = case["closed_at"] + dt.timedelta(minutes=rng.uniform(1, 30))
        if sent > now:
            continue
        channel = contact.channel if contact.channel != Channel.VOICE else Channel.SMS
        row: dict[str, Any] = {
            "jurisdiction_id": jurisdiction.id,
            "channel": channel,
            "address": "",
            "token": f"{rng.getrandbits(128):032x}",
            "state": SurveyState.SENT,
            "score": None,
            "comment": "",
            "sent_at": sent,
            "expires_at": sent + dt.timedelta(days=7),
            "answered_at": None,
        }
        answered_at = sent + dt.timedelta(minutes=rng.lognormvariate(math.log(40), 1.2))
        if rng.random() < 0.05:
            row["state"] = SurveyState.SUPPRESSED
        elif rng.random() < 0.36 and answered_at < min(now, row["expires_at"]):
            weights = [w * (1.4 if s >= 4 and contact.resolved else 1) for s, w in SCORES]
            score = rng.choices([s for s, _ in SCORES], weights)[0]
            row.update(state=SurveyState.ANSWERED, score=score, answered_at=answered_at)
            case["satisfaction"] = score
        elif row["expires_at"] <= now:
            row["state"] = SurveyState.EXPIRED
        surveys.append((contact.number, row))
    return surveys


def _insert_returning_ids(session: Session, model: Any, rows: Sequence[Any]) -> list[int]:
    """Insert ``rows`` with ids taken beforehand, and return those ids in order: one
    executemany, where RETURNING in parameter order costs a statement per row on PostgreSQL."""
    table = cast(sa.Table, model.__table__)
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.scalars(
                sa.select(
                    sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))
                ).select_from(sa.func.generate_series(1, len(rows)))
            )
        )
    else:  # one writer at a time: the ids after the highest are free
        highest = session.scalar(sa.select(sa.func.max(table.c.id))) or 0
        ids = list(range(highest + 1, highest + 1 + len(rows)))
    session.execute(
        sa.insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
    )
    return ids
