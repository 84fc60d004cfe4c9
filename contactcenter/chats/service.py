"""Web chat: a resident's conversation in the city website's chat window, as a case.

A chat starts with a short guided intake (what, where, how to reach you): a case is opened
from it and routed like any other, and a ``chat`` work item waits in the same queue for an
agent. While it waits, the case's own first-response item is parked (cancelled), so no
agent is ever offered the same resident twice; if nobody takes the chat by its wait deadline
(or nobody could: the office is closed, nobody of the queue is signed in) the chat is handed
off: the resident is told their tracking number and the case waits in the queue for its
first response like a text would, answered later on the phone or email they left.

Every message is an ordinary interaction on the case (channel ``webchat``): the interactions
*are* the transcript, and the console shows them like any other. The resident's side is the
chat's contact point, ``visitor_id``; agents' replies go out through the console's reply path
and the web chat adapter delivers them to the window.

Functions take a session and do not commit; events for the window leave after the commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from contactcenter import texts
from contactcenter.agents.models import Agent, Presence, agent_jurisdictions
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.cases.service import open_case, resident_replied, when_case_finished
from contactcenter.chats.events import MESSAGE, SESSION, emit_to_chat_after_commit
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.chats.settings import chat_settings
from contactcenter.classify import classify
from contactcenter.config import Settings
from contactcenter.db import utcnow
from contactcenter.errors import Conflict, Invalid, NotFound, Unauthorized
from contactcenter.i18n import supported, translate
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.jurisdictions.service import active_service_types, owned_address
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.outbound import queue_message
from contactcenter.ratelimit import RateLimited
from contactcenter.realtime import (
    CASE_UPDATED,
    notify_agent,
    notify_agent_after_commit,
    notify_supervisors_after_commit,
)
from contactcenter.residents.addresses import NormalizedAddress, normalize_email, normalize_phone
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.context import context_for
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    WorkItem,
    WorkKind,
    WorkState,
    agent_queues,
)
from contactcenter.routing.scheduling import schedule_dispatch
from contactcenter.routing.service import route_case
from contactcenter.routing.work import (
    Target,
    enqueue_work,
    resolved_on_contact,
    withdraw_offers,
)

MAX_MESSAGE = 2000
MAX_ADDRESS = 500
MAX_NAME = 200
MAX_CLIENT_ID = 64
HISTORY_LIMIT = 200
MAX_TRANSCRIPTS = 2
"""Transcripts one chat may have mailed: each is mail from the city to a typed address."""
TOKEN_SALT = "webchat-session"  # noqa: S105 (a salt, not a secret)
TOKEN_MAX_AGE = 24 * 3600
ENDED_TOKEN_GRACE = dt.timedelta(minutes=10)
"""How long a chat's token still opens it once it ended: the final screen can mail the
transcript, and a token leaked from the window's storage is soon worthless."""
INTAKE = "intake"

log = logging.getLogger(__name__)


# --- The session token ------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def make_token(chat: ChatSession) -> str:
    """What the window keeps to prove it owns the chat (a reload continues it)."""
    return str(_serializer().dumps({"v": chat.visitor_id, "j": chat.jurisdiction_id}))


def chat_for_token(session: Session, token: str) -> ChatSession:
    """:raises Unauthorized: the token is missing, forged, expired, names no chat, or names
    one that ended more than ``ENDED_TOKEN_GRACE`` ago."""
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE) if token else None
    except (BadSignature, SignatureExpired):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("v"), str):
        raise Unauthorized("This chat session is not valid any more.")
    query = sa.select(ChatSession).where(
        ChatSession.visitor_id == data["v"], ChatSession.jurisdiction_id == data.get("j")
    )
    chat = session.scalars(query).one_or_none()
    if chat is None or (
        chat.state == ChatState.ENDED
        and chat.ended_at is not None
        and chat.ended_at < utcnow() - ENDED_TOKEN_GRACE
    ):
        raise Unauthorized("This chat session is not valid any more.")
    return chat


def jurisdiction_for_key(session: Session, key: str) -> Jurisdiction:
    """:raises NotFound: no jurisdiction has this public chat key."""
    if not key or len(key) > 320:
        raise NotFound("No chat with this key.", code="unknown_key")
    jurisdiction = session.scalars(
        sa.select(Jurisdiction)
        .join(ChannelAddress, ChannelAddress.jurisdiction_id == Jurisdiction.id)
        .where(ChannelAddress.channel == Channel.WEBCHAT, ChannelAddress.address == key)
    ).one_or_none()
    if jurisdiction is None:
        raise NotFound("No chat with this key.", code="unknown_key")
    return jurisdiction


def chat_language(jurisdiction: Jurisdiction, wanted: str | None) -> str:
    if wanted and wanted in jurisdiction.languages and supported(wanted):
        return wanted
    return jurisdiction.default_language


# --- Starting a chat --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatAnswers:
    """The guided intake, as the window sends it (raw; :func:`start_chat` validates)."""

    key: str
    description: str
    language: str = ""
    service_code: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    name: str = ""
    client_id: str = ""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ChatAnswers:
        """:raises Invalid: a field that is not a string."""
        values: dict[str, str] = {}
        bad: dict[str, str] = {}
        for name in cls.__dataclass_fields__:
            value = body.get(name, "")
            if value is None:
                value = ""
            if not isinstance(value, str):
                bad[name] = "must be text"
            else:
                values[name] = value
        if bad:
            raise Invalid("Some answers are not text.", code="invalid_body", fields=bad)
        return cls(**values)


@dataclass(frozen=True)
class _Checked:
    description: str
    address: str
    name: str
    phone: NormalizedAddress | None
    email: NormalizedAddress | None
    service_code: str
    client_id: str


def _check(jurisdiction: Jurisdiction, answers: ChatAnswers) -> _Checked:
    bad: dict[str, str] = {}
    description = answers.description.strip()
    if not description:
        bad["description"] = "required"
    elif len(description) > MAX_MESSAGE:
        bad["description"] = f"max {MAX_MESSAGE} characters"
    address = answers.address.strip()
    if len(address) > MAX_ADDRESS:
        bad["address"] = f"max {MAX_ADDRESS} characters"
    name = answers.name.strip()
    if len(name) > MAX_NAME:
        bad["name"] = f"max {MAX_NAME} characters"
    phone = None
    if answers.phone.strip():
        phone = normalize_phone(answers.phone[:64], jurisdiction.country)
        if not phone.is_valid:
            bad["phone"] = "not a phone number"
    email = None
    if answers.email.strip():
        email = normalize_email(answers.email[:320])
        if not email.is_valid or len(email.address) > 254 or " " in email.address:
            bad["email"] = "not an email address"
    if len(answers.client_id) > MAX_CLIENT_ID:
        bad["client_id"] = f"max {MAX_CLIENT_ID} characters"
    if bad:
        raise Invalid("Please check your answers.", code="invalid_answers", fields=bad)
    return _Checked(
        description, address, name, phone, email, answers.service_code.strip(), answers.client_id
    )


def start_chat(
    session: Session,
    jurisdiction: Jurisdiction,
    answers: ChatAnswers,
    settings: Settings,
    now: dt.datetime | None = None,
) -> ChatSession:
    """Open the case, record the first message, and queue the chat for an agent.

    A retried start (same ``client_id``, same description) returns the chat the first made.

    :raises Invalid: bad answers (``fields`` names them).
    """
    now = now or utcnow()
    checked = _check(jurisdiction, answers)
    key = answers.key
    if checked.client_id:
        retried = _retried_start(session, jurisdiction, checked)
        if retried is not None:
            return retried
    service_type = _service_type(session, jurisdiction, checked)
    language = chat_language(jurisdiction, answers.language)
    visitor_id = secrets.token_urlsafe(24)
    resident = _resident(session, jurisdiction, visitor_id, checked, language)
    case = open_case(
        session,
        jurisdiction=jurisdiction,
        resident=resident,
        channel=Channel.WEBCHAT,
        description=checked.description,
        service_type=service_type,
        department=None,
        address_text=checked.address,
        language=language,
    )
    first = Interaction(
        jurisdiction_id=jurisdiction.id,
        case=case,
        resident=resident,
        channel=Channel.WEBCHAT,
        direction=Direction.INBOUND,
        provider_id=_intake_id(jurisdiction, visitor_id, checked.client_id),
        from_address=visitor_id,
        to_address=key,
        body=checked.description,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=now,
        processed_at=now,
    )
    session.add(first)
    session.flush()
    chat = ChatSession(
        jurisdiction_id=jurisdiction.id,
        visitor_id=visitor_id,
        resident_id=resident.id,
        case=case,
        state=ChatState.WAITING,
        language=language,
        phone=checked.phone.address if checked.phone is not None else None,
        email=checked.email.address if checked.email is not None else None,
        created_at=now,
        last_activity_at=now,
        wait_deadline_at=now + dt.timedelta(seconds=settings.chat_max_wait_seconds),
    )
    session.add(chat)
    outcome = route_case(session, case, now)
    session.flush()
    greeting = translate(
        language, texts.ACK_NEW, city=jurisdiction.name, tracking=case.tracking_number
    )
    chat_item = _queue_chat(session, chat, outcome.work_item, now)
    if chat_item is None or _nobody_can_answer(session, jurisdiction, chat_item.queue_id, now):
        _system_message(session, chat, greeting)
        hand_off(session, chat, now)
    else:
        _system_message(session, chat, f"{greeting} {translate(language, texts.CHAT_WAITING)}")
    return chat


def _intake_id(jurisdiction: Jurisdiction, visitor_id: str, client_id: str) -> str:
    """The first message's provider id: by the window's ``client_id`` when it sent one, so a
    retried start finds the chat its first attempt made."""
    if client_id:
        return f"{INTAKE}:{jurisdiction.id}:{client_id}"
    return f"{visitor_id}:{INTAKE}"


def _retried_start(
    session: Session, jurisdiction: Jurisdiction, checked: _Checked
) -> ChatSession | None:
    first = session.scalars(
        sa.select(Interaction).where(
            Interaction.channel == Channel.WEBCHAT,
            Interaction.provider_id == _intake_id(jurisdiction, "", checked.client_id),
        )
    ).one_or_none()
    if first is None:
        return None
    if first.body != checked.description:
        # Not a retry: someone else's id (or a reused one) never hands out that chat.
        raise Conflict("This request was already made.", code="client_id_reused")
    return session.scalars(
        sa.select(ChatSession).where(
            ChatSession.visitor_id == first.from_address,
            ChatSession.jurisdiction_id == jurisdiction.id,
        )
    ).one_or_none()


def _service_type(session: Session, jurisdiction: Jurisdiction, checked: _Checked) -> Any:
    types = active_service_types(session, jurisdiction.id)
    if checked.service_code:
        chosen = next((t for t in types if t.code == checked.service_code), None)
        if chosen is None:
            raise Invalid(
                "Please choose one of the listed topics.",
                code="invalid_answers",
                fields={"service_code": "unknown"},
            )
        return chosen
    return classify(types, checked.description)


def _resident(
    session: Session,
    jurisdiction: Jurisdiction,
    visitor_id: str,
    checked: _Checked,
    language: str,
) -> Resident:
    """The resident behind the chat: whoever already owns the phone or email they left (the
    chat then lands on their record), else a new resident with those contact points.

    Chat answers are not authenticated: anyone can type anyone's phone number. So a record
    found that way only gains the points typed here; its name and language stay as they are
    (they are set only on a resident this chat creates), and nothing the chat does later
    uses the record's other contact points (see :attr:`ChatSession.email`).
    """
    given = [n for n in (checked.phone, checked.email) if n is not None]
    owners: dict[tuple[ContactKind, str], ContactPoint] = {}
    for normalized in given:
        point = _contact_point(session, jurisdiction.id, normalized.kind, normalized.address)
        if point is not None:
            owners[(normalized.kind, normalized.address)] = point
    known = next(iter(owners.values()), None)
    if known is None:
        resident = Resident(
            jurisdiction_id=jurisdiction.id,
            display_name=checked.name,
            preferred_language=language,  # chosen in the window just now
        )
    else:
        resident = known.resident
        while resident.merged_into_id is not None:
            resident = session.get_one(Resident, resident.merged_into_id)
    session.add(resident)
    session.add(
        ContactPoint(
            jurisdiction_id=jurisdiction.id,
            resident=resident,
            kind=ContactKind.CHAT,
            address=visitor_id,
            is_valid=True,
        )
    )
    for normalized in given:
        if (normalized.kind, normalized.address) not in owners:
            session.add(
                ContactPoint(
                    jurisdiction_id=jurisdiction.id,
                    resident=resident,
                    kind=normalized.kind,
                    address=normalized.address,
                    is_valid=normalized.is_valid,
                )
            )
    return resident


def _contact_point(
    session: Session, jurisdiction_id: int, kind: ContactKind, address: str
) -> ContactPoint | None:
    return session.scalars(
        sa.select(ContactPoint).where(
            ContactPoint.jurisdiction_id == jurisdiction_id,
            ContactPoint.kind == kind,
            ContactPoint.address == address,
        )
    ).one_or_none()


def _queue_chat(
    session: Session, chat: ChatSession, first_response: WorkItem | None, now: dt.datetime
) -> WorkItem | None:
    """The chat waits where routing put the case, with the same skills and language; the
    case's first-response item is parked meanwhile (see :func:`_unpark`)."""
    if first_response is None:
        return None  # no queue at all: nobody can take it
    first_response.state = WorkState.CANCELLED
    first_response.completed_at = now
    session.flush()
    return _enqueue_like(session, chat, first_response, WorkKind.CHAT, now)


def _enqueue_like(
    session: Session, chat: ChatSession, like: WorkItem, kind: WorkKind, now: dt.datetime
) -> WorkItem:
    """Queue ``kind`` work for the chat's case where ``like`` waits (same targets, priority,
    skills and language), and dispatch."""
    item = enqueue_work(
        session,
        jurisdiction_id=chat.jurisdiction_id,
        case=chat.case,
        kind=kind,
        channel=Channel.WEBCHAT,
        targets=[Target(int(q), t) for q, t in like.targets],
        priority=like.priority,
        skills=like.required_skills,
        language=like.language,
        now=now,
    )
    schedule_dispatch(session, [chat.jurisdiction_id])
    return item


def _unpark(
    session: Session, chat: ChatSession, chat_item: WorkItem | None, now: dt.datetime
) -> None:
    """The case waits for its first response again (the chat did not get an agent)."""
    case = chat.case
    if case is None or chat_item is None or _answered(session, case):
        return
    if _live_first_response(session, case.id) is not None:
        return  # a transfer already put the case back in a queue
    _enqueue_like(session, chat, chat_item, WorkKind.FIRST_RESPONSE, now)


def _live_first_response(session: Session, case_id: int) -> int | None:
    return session.scalar(
        sa.select(WorkItem.id).where(
            WorkItem.case_id == case_id,
            WorkItem.kind == WorkKind.FIRST_RESPONSE,
            WorkItem.state.in_(LIVE_WORK_STATES),
        )
    )


def _answered(session: Session, case: Case) -> bool:
    """An agent already wrote to the resident (from the console, while the chat waited)."""
    return (
        session.scalar(
            sa.select(Interaction.id)
            .where(
                Interaction.case_id == case.id,
                Interaction.direction == Direction.OUTBOUND,
                Interaction.agent_id.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def _nobody_can_answer(
    session: Session, jurisdiction: Jurisdiction, queue_id: int, now: dt.datetime
) -> bool:
    """Whether waiting is pointless: outside the chat's hours (when the jurisdiction names a
    calendar for them), or nobody of the queue is signed in (available, or busy and so
    possibly free within the wait). Deliberately simple: capacity is left to the deadline."""
    hours = chat_settings(jurisdiction).hours
    if hours:
        calendar = context_for(session, jurisdiction.id).calendars.get(hours)
        if calendar is not None and not calendar.is_open(now):
            return True
    present = session.scalar(
        sa.select(sa.func.count(Agent.id))
        .join(agent_queues, agent_queues.c.agent_id == Agent.id)
        .join(
            agent_jurisdictions,
            sa.and_(
                agent_jurisdictions.c.agent_id == Agent.id,
                agent_jurisdictions.c.jurisdiction_id == jurisdiction.id,
            ),
        )
        .where(
            agent_queues.c.queue_id == queue_id,
            Agent.active.is_(True),
            Agent.presence.in_((Presence.AVAILABLE, Presence.BUSY)),
        )
    )
    return not present


def _lock_case(session: Session, case_id: int | None, *, skip_locked: bool = False) -> bool:
    """Lock the chat's case first (PostgreSQL): the one order everyone takes is case, then
    work item, then offer, then chat, so ending a chat and resolving its case never wait on
    each other in a circle. False if skipped (someone else holds the case)."""
    if case_id is None or session.get_bind().dialect.name != "postgresql":
        return True
    locked = session.scalar(
        sa.select(Case.id).where(Case.id == case_id).with_for_update(skip_locked=skip_locked)
    )
    return locked is not None


def _chat_item(session: Session, chat: ChatSession, *, lock: bool = False) -> WorkItem | None:
    if chat.case_id is None:
        return None
    query = sa.select(WorkItem).where(
        WorkItem.case_id == chat.case_id,
        WorkItem.kind == WorkKind.CHAT,
        WorkItem.state.in_(LIVE_WORK_STATES),
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def _end_item(
    session: Session, item: WorkItem | None, now: dt.datetime, *, from_states: tuple[WorkState, ...]
) -> bool:
    """Take the chat's work item out of the queue (or off the agent); False if it moved on."""
    if item is None:
        return False
    withdraw_offers(session, [item.id], now)
    notify_supervisors_after_commit(session, item.jurisdiction_id)
    target = WorkState.COMPLETED if item.state == WorkState.ASSIGNED else WorkState.CANCELLED
    resolved = resolved_on_contact() if target == WorkState.COMPLETED else sa.false()
    done = session.execute(
        sa.update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.state.in_(from_states))
        .values(state=target, completed_at=now, resolved_on_contact=resolved)
        .execution_options(synchronize_session=False)
    )
    session.expire(item, ["state", "completed_at", "resolved_on_contact"])
    return bool(done.rowcount)  # type: ignore[attr-defined]


# --- Messages ---------------------------------------------------------------------------------


def _webchat_key(session: Session, chat: ChatSession) -> str:
    return owned_address(session, chat.jurisdiction_id, Channel.WEBCHAT) or ""


def _system_message(session: Session, chat: ChatSession, body: str) -> Interaction:
    """A message from the city itself (not an agent), delivered to the window like a reply."""
    interaction = queue_message(
        session,
        jurisdiction_id=chat.jurisdiction_id,
        channel=Channel.WEBCHAT,
        to_address=chat.visitor_id,
        from_address=_webchat_key(session, chat),
        body=body,
        case=chat.case,
        resident=chat.case.resident if chat.case is not None else None,
    )
    interaction.automated = True
    return interaction


def _client_id_of(interaction: Interaction, visitor_id: str) -> str | None:
    if interaction.direction != Direction.INBOUND or not interaction.provider_id:
        return None
    prefix = f"{visitor_id}:"
    if interaction.provider_id.startswith(prefix):
        rest = interaction.provider_id[len(prefix) :]
        return None if rest == INTAKE else rest
    if interaction.provider_id.startswith(f"{INTAKE}:"):
        return interaction.provider_id.split(":", 2)[2]
    return None


def iso_z(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_json(
    interaction: Interaction, visitor_id: str, agent_names: dict[int, str]
) -> dict[str, Any]:
    if interaction.direction == Direction.INBOUND:
        sender = "resident"
    elif interaction.agent_id is not None:
        sender = "agent"
    else:
        sender = "system"
    return {
        "id": interaction.id,
        "client_id": _client_id_of(interaction, visitor_id),
        "from": sender,
        "body": interaction.body,
        "at": iso_z(interaction.created_at),
        "author": agent_names.get(interaction.agent_id) if interaction.agent_id else None,
    }


def _names(session: Session, agent_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in agent_ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(sa.select(Agent.id, Agent.name).where(Agent.id.in_(ids))).all())  # type: ignore[arg-type]


def _chat_messages(session: Session, chat: ChatSession) -> sa.Select[Any]:
    return sa.select(Interaction).where(
        Interaction.case_id == chat.case_id,
        Interaction.channel == Channel.WEBCHAT,
        sa.or_(
            Interaction.from_address == chat.visitor_id,
            Interaction.to_address == chat.visitor_id,
        ),
    )


def history(
    session: Session, chat: ChatSession, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """The chat's last ``limit`` messages, oldest first."""
    rows = list(
        session.scalars(_chat_messages(session, chat).order_by(Interaction.id.desc()).limit(limit))
    )
    rows.reverse()
    names = _names(session, {r.agent_id for r in rows})
    return [message_json(r, chat.visitor_id, names) for r in rows]


def message_payload(session: Session, interaction_id: int) -> tuple[str, dict[str, Any]] | None:
    """(visitor, Message JSON) of one stored chat message: what the adapter delivers."""
    interaction = session.get(Interaction, interaction_id)
    if interaction is None or interaction.channel != Channel.WEBCHAT:
        return None
    visitor = (
        interaction.from_address
        if interaction.direction == Direction.INBOUND
        else interaction.to_address
    )
    names = _names(session, {interaction.agent_id})
    return visitor, message_json(interaction, visitor, names)


def resident_message(
    session: Session, chat: ChatSession, client_id: Any, body: Any, now: dt.datetime | None = None
) -> Interaction:
    """The resident wrote in the window: the message goes on the case (once per ``client_id``).

    :raises Invalid: empty or too long, or a bad ``client_id``.
    :raises Conflict: the chat has ended.
    """
    now = now or utcnow()
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID:
        raise Invalid(
            "A message needs a client_id.",
            code="invalid_message",
            fields={"client_id": f"1 to {MAX_CLIENT_ID} characters"},
        )
    text = body.strip() if isinstance(body, str) else ""
    if not text or len(text) > MAX_MESSAGE:
        raise Invalid(
            f"A message has 1 to {MAX_MESSAGE} characters.",
            code="invalid_message",
            fields={"body": f"1 to {MAX_MESSAGE} characters"},
        )
    provider_id = f"{chat.visitor_id}:{client_id}"
    existing = _by_provider_id(session, provider_id)
    if existing is not None:
        return existing
    if chat.state == ChatState.ENDED:
        raise Conflict("This chat has ended.", code="chat_ended")
    case = chat.case
    assert case is not None
    interaction = Interaction(
        jurisdiction_id=chat.jurisdiction_id,
        case=case,
        resident_id=case.resident_id,
        channel=Channel.WEBCHAT,
        direction=Direction.INBOUND,
        provider_id=provider_id,
        from_address=chat.visitor_id,
        to_address=_webchat_key(session, chat),
        body=text,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=now,
        processed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(interaction)
    except IntegrityError:
        # The same message, sent twice at once (a retry racing the first attempt).
        found = _by_provider_id(session, provider_id)
        if found is None:
            raise
        return found
    chat.last_activity_at = now
    case.updated_at = now
    resident_replied(session, case)
    if case.assigned_agent_id is not None:
        notify_agent_after_commit(
            session, case.assigned_agent_id, CASE_UPDATED, {"case_id": case.id}
        )
    # The resident's other tabs show it too (the sending window knows it by client_id).
    emit_to_chat_after_commit(
        session, chat.visitor_id, MESSAGE, message_json(interaction, chat.visitor_id, {})
    )
    return interaction


def _by_provider_id(session: Session, provider_id: str) -> Interaction | None:
    return session.scalars(
        sa.select(Interaction).where(
            Interaction.channel == Channel.WEBCHAT, Interaction.provider_id == provider_id
        )
    ).one_or_none()


def resident_typing(chat: ChatSession, typing: bool) -> None:
    """Tell the agent on the case that the resident is (or stopped) typing; nothing is stored."""
    if chat.state != ChatState.ACTIVE or chat.agent_id is None or chat.case_id is None:
        return
    notify_agent(chat.agent_id, "chat_typing", {"case_id": chat.case_id, "typing": bool(typing)})


def live_chat_of_case(session: Session, case_id: int) -> ChatSession | None:
    return session.scalars(
        sa.select(ChatSession)
        .where(
            ChatSession.case_id == case_id,
            ChatSession.state.in_((ChatState.WAITING, ChatState.ACTIVE)),
        )
        .order_by(ChatSession.id.desc())
        .limit(1)
    ).first()


# --- State changes ----------------------------------------------------------------------------


def _agent_name(session: Session, chat: ChatSession) -> str | None:
    if chat.agent_id is None:
        return None
    agent = session.get(Agent, chat.agent_id)
    return agent.name if agent is not None else None


def _chat_email(session: Session, chat: ChatSession) -> str | None:
    """The email typed in this chat, while mail to it is deliverable. Only that one: the
    linked resident record may hold other addresses the visitor never gave (they may have
    typed someone else's phone number)."""
    if chat.email is None:
        return None
    point = _contact_point(session, chat.jurisdiction_id, ContactKind.EMAIL, chat.email)
    if point is not None and (not point.is_valid or point.undeliverable_at is not None):
        return None
    return chat.email


def _can_email(session: Session, chat: ChatSession) -> bool:
    return (
        chat.transcripts_sent < MAX_TRANSCRIPTS
        and _chat_email(session, chat) is not None
        and owned_address(session, chat.jurisdiction_id, Channel.EMAIL) is not None
    )


def _handed_off_text(chat: ChatSession) -> str:
    """What the resident is promised: only by the phone or email typed in this chat."""
    if chat.phone is not None:
        return texts.CHAT_HANDED_OFF_SMS
    if chat.email is not None:
        return texts.CHAT_HANDED_OFF_EMAIL
    return texts.CHAT_HANDED_OFF_KEEP


def session_json(session: Session, chat: ChatSession) -> dict[str, Any]:
    tracking = chat.case.tracking_number if chat.case is not None else ""
    agent_name = _agent_name(session, chat) if chat.state == ChatState.ACTIVE else None
    if chat.state == ChatState.WAITING:
        notice = translate(chat.language, texts.CHAT_WAITING)
    elif chat.state == ChatState.ACTIVE:
        notice = translate(chat.language, texts.CHAT_WITH_AGENT, agent=agent_name or "")
    elif chat.state == ChatState.HANDED_OFF:
        notice = translate(chat.language, _handed_off_text(chat), tracking=tracking)
    else:
        notice = translate(chat.language, texts.CHAT_ENDED, tracking=tracking)
    return {
        "state": str(chat.state),
        "tracking_number": tracking,
        "agent_name": agent_name,
        "language": chat.language,
        "can_email_transcript": _can_email(session, chat),
        "notice": notice,
    }


def _announce(session: Session, chat: ChatSession) -> None:
    session.flush()
    emit_to_chat_after_commit(session, chat.visitor_id, SESSION, session_json(session, chat))


def hand_off(session: Session, chat: ChatSession, now: dt.datetime | None = None) -> bool:
    """Nobody took the chat (or nobody can): the case waits for an answer by text or email.

    False if the chat is no longer waiting (an agent took it meanwhile).
    """
    now = now or utcnow()
    _lock_case(session, chat.case_id)
    item = _chat_item(session, chat, lock=True)  # case, item, then chat: as an agent does
    moved = session.execute(
        sa.update(ChatSession)
        .where(ChatSession.id == chat.id, ChatSession.state == ChatState.WAITING)
        .values(state=ChatState.HANDED_OFF, wait_deadline_at=None, last_activity_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(chat)
    if item is not None:
        _end_item(session, item, now, from_states=(WorkState.WAITING, WorkState.OFFERED))
    _unpark(session, chat, item, now)
    if chat.case is not None:
        record_event(session, chat.case, "chat_handed_off")
    tracking = chat.case.tracking_number if chat.case is not None else ""
    _system_message(
        session,
        chat,
        translate(chat.language, _handed_off_text(chat), tracking=tracking),
    )
    _announce(session, chat)
    return True


def hand_off_overdue(
    session: Session, now: dt.datetime | None = None, limit: int = 200
) -> set[int]:
    """Tick: hand off the waiting chats past their deadline; returns jurisdictions to dispatch.

    Safe on several workers: the chat's case and work item are locked with SKIP LOCKED
    (PostgreSQL) before the chat changes, in the same order an accepting agent takes them,
    and the change itself is conditional. Each hand-off runs in its own savepoint: one chat
    that fails is logged and skipped, never the whole tick (which holds every other check).
    """
    now = now or utcnow()
    chats = session.scalars(
        sa.select(ChatSession)
        .where(ChatSession.state == ChatState.WAITING, ChatSession.wait_deadline_at <= now)
        .order_by(ChatSession.wait_deadline_at)
        .limit(limit)
    ).all()
    touched: set[int] = set()
    postgres = session.get_bind().dialect.name == "postgresql"
    for chat in chats:
        chat_id = chat.id
        try:
            with session.begin_nested():
                if _hand_off_if_free(session, chat, now, postgres=postgres):
                    touched.add(chat.jurisdiction_id)
        except SQLAlchemyError:
            log.exception("Could not hand off chat %s; the tick goes on", chat_id)
    return touched


def _hand_off_if_free(
    session: Session, chat: ChatSession, now: dt.datetime, *, postgres: bool
) -> bool:
    if postgres and chat.case_id is not None:
        if not _lock_case(session, chat.case_id, skip_locked=True):
            return False  # an agent is changing the case right now: next tick
        locked = session.scalars(
            sa.select(WorkItem.id)
            .where(
                WorkItem.case_id == chat.case_id,
                WorkItem.kind == WorkKind.CHAT,
                WorkItem.state.in_(LIVE_WORK_STATES),
            )
            .with_for_update(skip_locked=True)
        ).all()
        still = session.scalar(
            sa.select(sa.func.count(WorkItem.id)).where(
                WorkItem.case_id == chat.case_id,
                WorkItem.kind == WorkKind.CHAT,
                WorkItem.state.in_(LIVE_WORK_STATES),
            )
        )
        if still and not locked:
            return False  # an agent is accepting it right now
    return hand_off(session, chat, now)


def work_assigned(session: Session, item: WorkItem, agent: Agent) -> None:
    """An agent took a chat: it becomes active and the resident hears who joined."""
    if item.kind != WorkKind.CHAT or item.case_id is None:
        return
    chat = session.scalars(
        sa.select(ChatSession).where(
            ChatSession.case_id == item.case_id, ChatSession.state == ChatState.WAITING
        )
    ).first()
    if chat is None:
        return
    moved = session.execute(
        sa.update(ChatSession)
        .where(ChatSession.id == chat.id, ChatSession.state == ChatState.WAITING)
        .values(
            state=ChatState.ACTIVE,
            agent_id=agent.id,
            wait_deadline_at=None,
            last_activity_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return
    session.refresh(chat)
    _system_message(
        session, chat, translate(chat.language, texts.CHAT_AGENT_JOINED, agent=agent.name)
    )
    _announce(session, chat)


def end_chat(
    session: Session, chat: ChatSession, *, by: str, now: dt.datetime | None = None
) -> bool:
    """The resident or the agent ended the chat (idempotent: False if it had ended already).

    The agent's capacity is freed; a chat nobody took leaves its case waiting for an answer.
    """
    now = now or utcnow()
    # The case, the work item, then the chat: the order an accepting agent takes them in.
    _lock_case(session, chat.case_id)
    item = _chat_item(session, chat, lock=True)
    session.refresh(chat)
    previous = chat.state
    moved = session.execute(
        sa.update(ChatSession)
        .where(ChatSession.id == chat.id, ChatSession.state != ChatState.ENDED)
        .values(
            state=ChatState.ENDED,
            ended_at=now,
            ended_by=by[:16],
            wait_deadline_at=None,
            last_activity_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(chat)
        return False
    session.refresh(chat)
    if item is not None:
        was_waiting = item.state != WorkState.ASSIGNED
        _end_item(session, item, now, from_states=LIVE_WORK_STATES)
        if was_waiting and previous == ChatState.WAITING:
            _unpark(session, chat, item, now)
        schedule_dispatch(session, [chat.jurisdiction_id])
    if chat.case is not None:
        counts = dict(
            session.execute(
                _chat_messages(session, chat)
                .with_only_columns(Interaction.direction, sa.func.count(Interaction.id))
                .group_by(Interaction.direction)
            ).all()
        )
        record_event(
            session,
            chat.case,
            "chat_ended",
            ended_by=by,
            resident_messages=int(counts.get(Direction.INBOUND, 0)),
            city_messages=int(counts.get(Direction.OUTBOUND, 0)),
        )
    tracking = chat.case.tracking_number if chat.case is not None else ""
    _system_message(session, chat, translate(chat.language, texts.CHAT_ENDED, tracking=tracking))
    _announce(session, chat)
    return True


def chat_work_moved(session: Session, item: WorkItem, now: dt.datetime | None = None) -> None:
    """A transfer or a supervisor moved the chat's work: the chat follows it.

    Given to an agent, the chat is theirs (typing and the window's agent name follow, and the
    resident hears who joined); back in a queue, the resident waits again, with a new deadline
    if an agent had it.
    """
    if item.kind != WorkKind.CHAT or item.case_id is None:
        return
    now = now or utcnow()
    chat = live_chat_of_case(session, item.case_id)
    if chat is None:
        return
    if item.state == WorkState.ASSIGNED and item.agent_id is not None:
        if chat.state == ChatState.ACTIVE and chat.agent_id == item.agent_id:
            return
        chat.state = ChatState.ACTIVE
        chat.agent_id = item.agent_id
        chat.wait_deadline_at = None
        chat.last_activity_at = now
        agent = session.get_one(Agent, item.agent_id)
        _system_message(
            session, chat, translate(chat.language, texts.CHAT_AGENT_JOINED, agent=agent.name)
        )
    elif chat.state == ChatState.ACTIVE:
        chat.state = ChatState.WAITING
        chat.agent_id = None
        settings: Settings = current_app.config["SETTINGS"]
        chat.wait_deadline_at = now + dt.timedelta(seconds=settings.chat_max_wait_seconds)
        chat.last_activity_at = now
        _system_message(session, chat, translate(chat.language, texts.CHAT_WAITING))
    else:
        return
    _announce(session, chat)


def chat_work_completed(session: Session, item: WorkItem) -> None:
    """The agent marked their chat work done: the chat ends with it."""
    if item.kind != WorkKind.CHAT or item.case_id is None:
        return
    case = session.get_one(Case, item.case_id)
    end_chats_of_case(session, case, by="agent")


def end_chats_of_case(session: Session, case: Case, *, by: str = "agent") -> int:
    """The case was resolved or closed: any chat still open on it ends."""
    ended = 0
    for chat in session.scalars(
        sa.select(ChatSession).where(
            ChatSession.case_id == case.id, ChatSession.state != ChatState.ENDED
        )
    ).all():
        ended += end_chat(session, chat, by=by)
    return ended


@when_case_finished
def _case_finished(session: Session, case: Case) -> None:
    """However the case was resolved or closed (by hand, by the API, as a duplicate), an open
    chat on it ends and the resident's window says so."""
    end_chats_of_case(session, case, by="agent")


# --- The transcript ---------------------------------------------------------------------------


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def transcript_text(session: Session, chat: ChatSession, jurisdiction: Jurisdiction) -> str:
    """The whole conversation as plain text, in the jurisdiction's time zone."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(jurisdiction.timezone)
    rows = list(session.scalars(_chat_messages(session, chat).order_by(Interaction.id)))
    names = _names(session, {r.agent_id for r in rows})
    tracking = chat.case.tracking_number if chat.case is not None else ""
    city = f"{jurisdiction.name} 3-1-1"
    you = translate(chat.language, texts.CHAT_TRANSCRIPT_YOU)
    lines = [
        translate(
            chat.language, texts.CHAT_TRANSCRIPT_INTRO, city=jurisdiction.name, tracking=tracking
        ),
        "",
    ]
    for row in rows:
        at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
        when = at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        if row.direction == Direction.INBOUND:
            who = you
        elif row.agent_id is not None:
            who = names.get(row.agent_id, city)
        else:
            who = city
        lines.append(f"[{when}] {who}: {row.body}")
    return "\n".join(lines) + "\n"


def email_transcript(session: Session, chat: ChatSession) -> str:
    """Queue the transcript to the email typed in this chat; returns the address, masked.

    At most :data:`MAX_TRANSCRIPTS` per chat, counted by a conditional update (two requests
    at once cannot both take the last one).

    :raises Conflict: ``no_email`` when the chat left no (deliverable) email address or the
        jurisdiction has no address to send from.
    :raises RateLimited: ``rate_limited`` when the chat had its transcripts already.
    """
    to_address = _chat_email(session, chat)
    sender = owned_address(session, chat.jurisdiction_id, Channel.EMAIL)
    if to_address is None or sender is None or chat.case is None:
        raise Conflict("There is no email address to send the transcript to.", code="no_email")
    counted = session.execute(
        sa.update(ChatSession)
        .where(ChatSession.id == chat.id, ChatSession.transcripts_sent < MAX_TRANSCRIPTS)
        .values(transcripts_sent=ChatSession.transcripts_sent + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(chat, ["transcripts_sent"])
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        raise RateLimited("The transcript was sent already.", code="rate_limited")
    jurisdiction = session.get_one(Jurisdiction, chat.jurisdiction_id)
    body = transcript_text(session, chat, jurisdiction)
    interaction = queue_message(
        session,
        jurisdiction_id=chat.jurisdiction_id,
        channel=Channel.EMAIL,
        to_address=to_address,
        from_address=sender,
        body=body,
        case=chat.case,
        resident=chat.case.resident,
    )
    interaction.subject = translate(
        chat.language,
        texts.CHAT_TRANSCRIPT_SUBJECT,
        city=jurisdiction.name,
        tracking=chat.case.tracking_number,
    )
    interaction.automated = True
    record_event(session, chat.case, "transcript_emailed", to=mask_email(to_address))
    return mask_email(to_address)
