"""The intake pipeline: one channel-neutral inbound message in, a case (or a command) out.

``receive_inbound`` is the heart of the product. Every channel adapter hands it an
:class:`InboundMessage`; it deduplicates by provider id, finds the jurisdiction and the
resident, handles keywords (STOP, HELP, STATUS, ...), continues the resident's conversation
or opens a case, classifies and routes it, and queues the acknowledgement. It only flushes:
the caller commits, and queued messages leave after that commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contactcenter import texts, tracking
from contactcenter.cases.models import OPEN_STATUSES, Awaiting, Case, Interaction
from contactcenter.cases.service import open_case, record_inbound, set_location
from contactcenter.classify import classify
from contactcenter.commands import Command, CommandKind, parse_command
from contactcenter.config import Settings
from contactcenter.db import utcnow
from contactcenter.i18n import supported, translate
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import active_service_types, jurisdiction_for_address
from contactcenter.language import guess_language
from contactcenter.locations import as_location_answer, extract_location
from contactcenter.messages import CONTACT_KIND_OF_CHANNEL, Channel, InboundMessage
from contactcenter.notifications import service_label
from contactcenter.outbound import queue_message
from contactcenter.residents.models import Resident
from contactcenter.residents.service import (
    find_or_create_resident,
    set_language,
    set_sms_opt_out,
)
from contactcenter.routing.service import route_case


class Outcome(StrEnum):
    DUPLICATE = "duplicate"
    NEW_CASE = "new_case"
    LOCATION_SET = "location_set"
    CONTINUED = "continued"
    COMMAND = "command"
    EMPTY = "empty"


@dataclass(frozen=True)
class IntakeOptions:
    conversation_window: dt.timedelta = dt.timedelta(minutes=120)
    keyword_replies: bool = True


@dataclass(frozen=True)
class IntakeResult:
    interaction: Interaction
    case: Case | None
    outcome: Outcome


@dataclass
class _Conversation:
    """What every step of one intake needs: where the message came from and who sent it."""

    session: Session
    message: InboundMessage
    jurisdiction: Jurisdiction
    resident: Resident
    language: str

    def reply(self, message_id: str, case: Case | None = None, **params: object) -> None:
        body = translate(self.language, message_id, city=self.jurisdiction.name, **params)
        queue_message(
            self.session,
            jurisdiction_id=self.jurisdiction.id,
            channel=self.message.channel,
            to_address=self.message.from_address,
            from_address=self.message.to_address,
            body=body,
            case=case,
            resident=self.resident,
        )

    def record(self, case: Case | None) -> Interaction:
        return record_inbound(
            self.session,
            self.message,
            jurisdiction_id=self.jurisdiction.id,
            resident=self.resident,
            case=case,
        )


def options_from_settings(settings: Settings) -> IntakeOptions:
    return IntakeOptions(
        conversation_window=dt.timedelta(minutes=settings.sms_conversation_minutes),
        keyword_replies=settings.sms_keyword_replies,
    )


def receive_and_commit(
    session: Session, message: InboundMessage, options: IntakeOptions | None = None
) -> IntakeResult:
    """:func:`receive_inbound` as one committed transaction, for the webhook edges.

    Two deliveries of the same message racing each other (a Twilio retry while the first is
    still being written), or two first messages from one new resident, meet at a unique
    constraint. The loser rolls back and runs again, and then finds the winner's rows.
    """
    for attempt in range(2):
        try:
            result = receive_inbound(session, message, options)
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def find_duplicate(session: Session, message: InboundMessage) -> Interaction | None:
    return session.scalars(
        sa.select(Interaction).where(
            Interaction.channel == message.channel,
            Interaction.provider_id == message.provider_id,
        )
    ).one_or_none()


def receive_inbound(
    session: Session, message: InboundMessage, options: IntakeOptions | None = None
) -> IntakeResult:
    """Take one inbound message into the unified case model.

    :raises NotFound: the message was sent to an address no jurisdiction owns.
    """
    options = options or IntakeOptions()
    duplicate = find_duplicate(session, message)
    if duplicate is not None:
        return IntakeResult(duplicate, duplicate.case, Outcome.DUPLICATE)

    jurisdiction = jurisdiction_for_address(session, message.channel, message.to_address)
    resident, _contact = find_or_create_resident(
        session, jurisdiction, CONTACT_KIND_OF_CHANNEL[message.channel], message.from_address
    )
    language = _language(session, resident, jurisdiction, message.body)
    convo = _Conversation(session, message, jurisdiction, resident, language)

    command = parse_command(message.body) if message.body else None
    if command is not None:
        return _run_command(convo, command, options)
    if not message.body.strip() and not message.media_urls:
        interaction = convo.record(None)
        convo.reply(texts.HELP)
        return IntakeResult(interaction, None, Outcome.EMPTY)

    current = _conversation_case(session, resident, message, options.conversation_window)
    if current is not None and current.awaiting == Awaiting.LOCATION:
        interaction = convo.record(current)
        set_location(session, current, as_location_answer(message.body))
        convo.reply(
            texts.LOCATION_NOTED,
            current,
            address=current.address_text,
            tracking=current.tracking_number,
        )
        return IntakeResult(interaction, current, Outcome.LOCATION_SET)
    if current is not None:
        interaction = convo.record(current)
        convo.reply(texts.ADDED_TO_CASE, current, tracking=current.tracking_number)
        return IntakeResult(interaction, current, Outcome.CONTINUED)
    return _open_new_case(convo)


def _language(session: Session, resident: Resident, jurisdiction: Jurisdiction, body: str) -> str:
    """The resident's language: as they chose it, else as they write, else the city's."""
    if resident.preferred_language:
        return resident.preferred_language
    guessed = guess_language(body, jurisdiction.languages)
    if guessed and supported(guessed):
        set_language(session, resident, guessed)
        return guessed
    return jurisdiction.default_language


def _conversation_case(
    session: Session, resident: Resident, message: InboundMessage, window: dt.timedelta
) -> Case | None:
    """The case this message continues: one it quotes, else the resident's recent open one."""
    if resident.id is None:
        return None  # a resident met just now has no cases yet
    base = sa.select(Case).where(Case.resident_id == resident.id, Case.status.in_(OPEN_STATUSES))
    quoted = tracking.find_in_text(message.body)
    if quoted is not None:
        case = session.scalars(base.where(Case.tracking_number == quoted)).one_or_none()
        if case is not None:
            return case
    return session.scalars(
        base.where(Case.origin_channel == message.channel, Case.updated_at >= utcnow() - window)
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def _open_new_case(convo: _Conversation) -> IntakeResult:
    session, message = convo.session, convo.message
    service_type = classify(active_service_types(session, convo.jurisdiction.id), message.body)
    location = extract_location(message.body)
    case = open_case(
        session,
        jurisdiction=convo.jurisdiction,
        resident=convo.resident,
        channel=message.channel,
        description=message.body.strip(),
        service_type=service_type,
        department=None,
        address_text=location or "",
        latitude=message.latitude,
        longitude=message.longitude,
        language=convo.language,
        awaiting=None if location or message.latitude is not None else Awaiting.LOCATION,
    )
    route_case(session, case)
    interaction = convo.record(case)
    ack = translate(
        convo.language, texts.ACK_NEW, city=convo.jurisdiction.name, tracking=case.tracking_number
    )
    if case.awaiting == Awaiting.LOCATION:
        ack = f"{ack} {translate(convo.language, texts.ASK_LOCATION)}"
    queue_message(
        session,
        jurisdiction_id=convo.jurisdiction.id,
        channel=message.channel,
        to_address=message.from_address,
        from_address=message.to_address,
        body=ack,
        case=case,
        resident=convo.resident,
    )
    return IntakeResult(interaction, case, Outcome.NEW_CASE)


def _run_command(convo: _Conversation, command: Command, options: IntakeOptions) -> IntakeResult:
    session, resident = convo.session, convo.resident
    interaction = convo.record(None)
    if command.kind is CommandKind.STOP:
        if convo.message.channel is Channel.SMS:
            set_sms_opt_out(session, resident, opted_out=True)
    elif command.kind is CommandKind.START:
        set_sms_opt_out(session, resident, opted_out=False)
        if options.keyword_replies:
            convo.reply(texts.RESUBSCRIBED)
    elif command.kind is CommandKind.HELP:
        if options.keyword_replies:
            convo.reply(texts.HELP)
    elif command.kind is CommandKind.LANGUAGE:
        if command.argument in convo.jurisdiction.languages and supported(command.argument):
            set_language(session, resident, command.argument)
            convo.language = command.argument
        convo.reply(texts.LANGUAGE_SET)
    elif command.kind is CommandKind.STATUS:
        _reply_status(convo, command.argument)
    return IntakeResult(interaction, None, Outcome.COMMAND)


def _reply_status(convo: _Conversation, number: str) -> None:
    session = convo.session
    query = sa.select(Case).where(Case.jurisdiction_id == convo.jurisdiction.id)
    if number:
        case = session.scalars(query.where(Case.tracking_number == number)).one_or_none()
    elif convo.resident.id is None:
        case = None
    else:
        case = session.scalars(
            query.where(Case.resident_id == convo.resident.id).order_by(Case.id.desc()).limit(1)
        ).first()
    if case is None:
        if number:
            convo.reply(texts.STATUS_NOT_FOUND, tracking=number)
        else:
            convo.reply(texts.STATUS_NEEDS_NUMBER)
        return
    convo.reply(
        texts.STATUS_REPLY,
        tracking=case.tracking_number,
        service=service_label(case, convo.language),
        status=translate(convo.language, texts.STATUS_LABELS[case.status]),
    )
