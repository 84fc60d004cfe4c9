"""The intake pipeline: one stored inbound message in, a case (or a command) out.

``receive_inbound`` is the heart of the product. Every channel's messages reach it the same
way (stored by :mod:`contactcenter.inbox`, then processed): it finds the resident, handles
keywords (STOP, HELP, STATUS, ...), continues the resident's conversation or opens a case,
classifies and routes it, and queues the acknowledgement. It does not commit: the job that
calls it does, and queued messages leave after that commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter import texts, tracking
from contactcenter.cases.models import OPEN_STATUSES, Awaiting, Case, Interaction
from contactcenter.cases.service import open_case, resident_replied, set_location
from contactcenter.classify import classify
from contactcenter.commands import Command, CommandKind, parse_command
from contactcenter.db import utcnow
from contactcenter.i18n import supported, translate
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import active_service_types
from contactcenter.language import guess_language
from contactcenter.locations import as_location_answer, extract_location
from contactcenter.mail.threads import case_of_thread, inbound_email_counts
from contactcenter.messages import CONTACT_KIND_OF_CHANNEL, Channel
from contactcenter.notifications import service_label
from contactcenter.outbound import queue_message
from contactcenter.realtime import CASE_UPDATED, notify_agent_after_commit
from contactcenter.residents.models import Resident
from contactcenter.residents.service import (
    find_or_create_resident,
    set_language,
    set_sms_opt_out,
)
from contactcenter.routing.service import route_case
from contactcenter.surveys.service import answer_by_text

DAILY_ACK_FACTOR = 4
"""A sender is acknowledged at most this many hourly limits' worth of times a day."""


class Outcome(StrEnum):
    NEW_CASE = "new_case"
    LOCATION_SET = "location_set"
    CONTINUED = "continued"
    COMMAND = "command"
    EMPTY = "empty"
    IGNORED = "ignored"
    """Machine-sent mail about no case of ours (an auto-reply, list mail): kept, no case."""
    SURVEY_ANSWER = "survey_answer"
    """A text that is only a score, answering the satisfaction survey sent to that number (or
    repeating its answer) when no conversation by text is newer than the survey."""


@dataclass(frozen=True)
class IntakeOptions:
    conversation_window: dt.timedelta = dt.timedelta(minutes=120)
    keyword_replies: bool = True
    email_ack_limit_per_hour: int = 5
    """A sender who emails more often than this in an hour gets no more acknowledgements:
    two mail robots answering each other stop after a few rounds."""


@dataclass(frozen=True)
class IntakeResult:
    interaction: Interaction
    case: Case | None
    outcome: Outcome


@dataclass
class _Conversation:
    """What every step of one intake needs: the message, where it came from, who sent it."""

    session: Session
    message: Interaction
    jurisdiction: Jurisdiction
    resident: Resident
    language: str
    quiet: bool = False
    """Acknowledge nothing (a machine wrote, or a sender is over the acknowledgement limit)."""

    def reply(self, message_id: str, case: Case | None = None, **params: object) -> None:
        if self.quiet:
            return
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

    def attach(self, case: Case | None) -> Interaction:
        """File the message on ``case`` (or on no case, for a keyword)."""
        self.message.case = case
        if case is not None and case.id is not None:
            case.updated_at = utcnow()
            if case.assigned_agent_id is not None:
                # The agent working the case sees the resident's words without reloading.
                notify_agent_after_commit(
                    self.session, case.assigned_agent_id, CASE_UPDATED, {"case_id": case.id}
                )
        return self.message


def receive_inbound(
    session: Session, message: Interaction, options: IntakeOptions | None = None
) -> IntakeResult:
    """Take one stored inbound message into the unified case model."""
    options = options or IntakeOptions()
    jurisdiction = session.get_one(Jurisdiction, message.jurisdiction_id)
    resident, _contact = find_or_create_resident(
        session, jurisdiction, CONTACT_KIND_OF_CHANNEL[message.channel], message.from_address
    )
    message.resident = resident
    language = _language(session, resident, jurisdiction, message.body)
    quiet = _quiet(session, message, resident, options)
    convo = _Conversation(session, message, jurisdiction, resident, language, quiet)
    if message.automated:
        # A robot's mail joins the case it answers, if any, and never starts anything.
        case = _conversation_case(session, resident, message, options.conversation_window)
        return IntakeResult(convo.attach(case), case, Outcome.IGNORED)

    command = parse_command(message.body) if message.body else None
    if command is not None:
        return _run_command(convo, command, options)
    answer = answer_by_text(session, message)
    if answer is not None:
        # "5" to a survey is its answer, filed on the surveyed case: not a new request. It is
        # not a reply to a case either: one in conversation since the survey takes it instead.
        # A repeated answer is filed there too, and thanked only once.
        case = answer.survey.case
        message.case = case
        if not answer.repeated:
            convo.reply(texts.SURVEY_SMS_THANKS, case)
        return IntakeResult(message, case, Outcome.SURVEY_ANSWER)
    if not message.body.strip() and not message.media_urls and not message.subject.strip():
        convo.reply(texts.HELP)
        return IntakeResult(convo.attach(None), None, Outcome.EMPTY)

    current = _conversation_case(session, resident, message, options.conversation_window)
    if current is not None and current.resident_id != resident.id:
        # Someone else writing in the thread (a neighbour in copy, a forwarded message): the
        # agent sees it on the case, but it neither answers the case's questions nor learns
        # anything about the case from us.
        convo.attach(current)
        return IntakeResult(message, current, Outcome.CONTINUED)
    if current is not None and current.awaiting == Awaiting.LOCATION:
        convo.attach(current)
        set_location(session, current, as_location_answer(message.body))
        convo.reply(
            texts.LOCATION_NOTED,
            current,
            address=current.address_text,
            tracking=current.tracking_number,
        )
        return IntakeResult(message, current, Outcome.LOCATION_SET)
    if current is not None:
        convo.attach(current)
        resident_replied(session, current)
        convo.reply(texts.ADDED_TO_CASE, current, tracking=current.tracking_number)
        return IntakeResult(message, current, Outcome.CONTINUED)
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


def _quiet(
    session: Session, message: Interaction, resident: Resident, options: IntakeOptions
) -> bool:
    if message.automated:
        return True
    if message.channel is not Channel.EMAIL:
        return False
    # This message is not linked to the resident yet, so only earlier ones are counted. A
    # robot without auto-reply headers that keeps just under the hourly limit still stops
    # within a day.
    last_hour, last_day = inbound_email_counts(session, resident.id, utcnow())
    limit = options.email_ack_limit_per_hour
    return last_hour >= limit or last_day >= limit * DAILY_ACK_FACTOR


def _conversation_case(
    session: Session, resident: Resident, message: Interaction, window: dt.timedelta
) -> Case | None:
    """The case this message continues.

    An email reply's references name it (whoever replies in the thread); else a tracking
    number quoted in the subject or text, if the case is the sender's; else, on channels
    without threads (SMS), the resident's recently active case.
    """
    if message.channel is Channel.EMAIL:
        threaded = case_of_thread(session, message.jurisdiction_id, message.thread_refs or ())
        if threaded is not None and threaded.is_open:
            return threaded
    if resident.id is None:
        return None  # a resident met just now has no cases yet
    base = sa.select(Case).where(Case.resident_id == resident.id, Case.status.in_(OPEN_STATUSES))
    quoted = tracking.find_in_text(f"{message.subject}\n{message.body}")
    if quoted is not None:
        case = session.scalars(base.where(Case.tracking_number == quoted)).one_or_none()
        if case is not None:
            return case
    if message.channel is Channel.EMAIL:
        return None  # a new email (no references, no tracking number) is a new request
    return session.scalars(
        base.where(Case.origin_channel == message.channel, Case.updated_at >= utcnow() - window)
        .order_by(Case.updated_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def _open_new_case(convo: _Conversation) -> IntakeResult:
    session, message = convo.session, convo.message
    text = _request_text(message)
    service_type = classify(active_service_types(session, convo.jurisdiction.id), text)
    location = extract_location(text)
    case = open_case(
        session,
        jurisdiction=convo.jurisdiction,
        resident=convo.resident,
        channel=message.channel,
        description=text,
        service_type=service_type,
        department=None,
        address_text=location or "",
        latitude=message.latitude,
        longitude=message.longitude,
        language=convo.language,
        awaiting=None if location or message.latitude is not None else Awaiting.LOCATION,
    )
    route_case(session, case)
    interaction = convo.attach(case)
    if convo.quiet:
        return IntakeResult(interaction, case, Outcome.NEW_CASE)
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


def _request_text(message: Interaction) -> str:
    """What the resident asked: an email's subject often says it all ("Pothole on Elm St")."""
    body = message.body.strip()
    subject = (message.subject or "").strip()
    if subject and subject.casefold() not in body.casefold():
        return f"{subject}\n\n{body}".strip()
    return body


def _run_command(convo: _Conversation, command: Command, options: IntakeOptions) -> IntakeResult:
    session, resident = convo.session, convo.resident
    interaction = convo.attach(None)
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
