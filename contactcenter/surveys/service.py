"""The one-question satisfaction survey: sent when a case is finished, answered once.

A case that is resolved or closed gets at most one survey (``satisfaction_surveys.case_id`` is
unique), chosen after the commit by a job (:func:`survey_job`), on the resident's channel:

- a case that came by text or email is asked the way the resident wrote in: a text ("reply 1
  to 5", answered by :func:`answer_by_text` from the SMS intake, when the question is the
  last thing we asked on that number) or an email with a link to the survey page
  (``/survey/<token>``);
- a web chat whose window is still open (the chat has an agent and ended at most the chat
  token's grace ago) is asked in the window, which offers the rating when the chat ends
  (:func:`offer_chat_survey`, whichever of the window and the job comes first makes it);
- anything else (a chat long closed, a call, a walk-in, an Open311 report) is asked at the
  resident's reachable phone or email, if any; with none, there is no survey at all.

A confirmed duplicate, closed because its parent was, is not asked (its parent's resident is).

Sending goes through :func:`contactcenter.outbound.queue_message`, so opt-outs (STOP) and
undeliverable addresses are honoured as for every other message. A survey that may not go
out is kept as ``suppressed`` with the reason in the case's audit trail (``survey_suppressed``):
the jurisdiction turned surveys off for the channel, the resident was asked within the last
:data:`QUIET_DAYS` days, opted out, or their address bounced. Surveys expire after
:data:`EXPIRY_DAYS` days; the expiry is computed from ``expires_at`` wherever it matters (an
answer, the figures), and :func:`expire_surveys` writes it down for tidiness.

Answering sets ``case.satisfaction`` through the ORM: the performance rollups follow the case
by session events like any other change to it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from contactcenter import texts
from contactcenter.cases.events import record_event
from contactcenter.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    DeliveryStatus,
    DuplicateStatus,
    Interaction,
)
from contactcenter.cases.service import when_case_finished
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.chats.service import ENDED_TOKEN_GRACE
from contactcenter.db import get_db, utcnow
from contactcenter.errors import Conflict, DomainError, Invalid, NotFound
from contactcenter.i18n import translate
from contactcenter.jobs import enqueue_after_commit
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, Direction
from contactcenter.notifications import resident_language, service_label
from contactcenter.outbound import queue_message, reply_route, reply_targets
from contactcenter.surveys.figures import SURVEY_DEFINITIONS as SURVEY_DEFINITIONS
from contactcenter.surveys.figures import SurveyFigures as SurveyFigures
from contactcenter.surveys.figures import survey_figures as survey_figures
from contactcenter.surveys.models import Survey, SurveyState
from contactcenter.surveys.settings import survey_settings

log = logging.getLogger(__name__)

EXPIRY_DAYS = 7
QUIET_DAYS = 30
"""A resident is asked at most once in this many days, whatever the number of cases."""
MAX_COMMENT = 2000
DEV_BASE_URL = "http://127.0.0.1:5000"
FINISHED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What :func:`secrets.token_urlsafe` makes; anything else (a NUL byte PostgreSQL refuses in
text, a path of megabytes) is no survey, answered before any query."""
_SCORE_TEXT = re.compile(r"\s*([1-5])\s*[!.]*\s*")
"""A text that is only a score: "4", " 4 ", "5!" (after NFKC, so full-width digits count too)."""


class SurveyExpired(DomainError):
    """The survey's time is up: a friendly 410, nothing recorded."""

    status = 410
    code = "survey_expired"


# --- Sending ----------------------------------------------------------------------------------


_FINISHED_CASES = "finished_cases"


@when_case_finished
def _case_finished(session: Session, case: Case) -> None:
    """Ask after the commit (a rolled-back resolution never asks anything), and after the
    transaction's other messages: the job is queued when the transaction commits, so the
    resolution notice, queued later in the same change, still leaves first."""
    session.info.setdefault(_FINISHED_CASES, {})[case.id] = None


def _queue_survey_jobs(session: Session) -> None:
    for case_id in session.info.pop(_FINISHED_CASES, {}):
        enqueue_after_commit(session, survey_job, case_id, retries=2)


def _forget_finished(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_FINISHED_CASES, None)


_UNDELIVERED = "undelivered_messages"
NOT_DELIVERED = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED, DeliveryStatus.SUPPRESSED)


@event.listens_for(Interaction.delivery_status, "set")
def _delivery_status_set(target: Interaction, value: Any, _old: Any, _initiator: Any) -> None:
    """An automated message that will not reach the resident (it failed, bounced, or they
    texted STOP while it waited): if it asked a survey, the survey was never sent. Noted
    here, written after the flush (:func:`_suppress_undelivered`), so the figures read the
    survey's own state instead of joining every survey to its message."""
    if value in NOT_DELIVERED and target.id is not None and target.automated:
        session = object_session(target)
        if session is not None:
            session.info.setdefault(_UNDELIVERED, set()).add(target.id)


def _suppress_undelivered(session: Session, _flush_context: Any) -> None:
    ids = session.info.pop(_UNDELIVERED, None)
    if ids:
        session.connection().execute(
            sa.update(Survey)
            .where(Survey.interaction_id.in_(sorted(ids)), Survey.state == SurveyState.SENT)
            .values(state=SurveyState.SUPPRESSED)
        )


if not event.contains(Session, "before_commit", _queue_survey_jobs):
    event.listen(Session, "before_commit", _queue_survey_jobs)
    event.listen(Session, "after_soft_rollback", _forget_finished)
    event.listen(Session, "after_flush", _suppress_undelivered)


def survey_job(case_id: int) -> None:
    """Job: send the survey of one finished case (idempotent: one survey per case)."""
    with get_db().session() as session:
        case = session.get(Case, case_id)
        if case is None:
            return
        try:
            survey = send_survey(session, case)
            session.commit()
        except IntegrityError:
            # The chat window offered its rating at the same moment: that is the survey.
            session.rollback()
            return
        if survey is not None:
            log.info("case %s: survey %s %s", case_id, survey.channel, survey.state)


def send_survey(session: Session, case: Case) -> Survey | None:
    """The case's survey: the existing one, or a new one sent (or suppressed) on the resident's
    channel; None when there is nobody to ask, or surveys are off for that channel."""
    existing = _survey_of_case(session, case.id)
    if existing is not None:
        return existing
    if case.status not in FINISHED:
        return None  # reopened before the job ran
    if case.duplicate_status == DuplicateStatus.CONFIRMED:
        return None  # closed as another's duplicate: that case's resident is asked
    jurisdiction = session.get_one(Jurisdiction, case.jurisdiction_id)
    chat = _rateable_chat(session, case)
    if chat is not None:
        return _chat_survey(session, jurisdiction, case, chat)
    route = _route(session, case)
    if route is None:
        return None
    channel, to_address, from_address = route
    if not survey_settings(jurisdiction).allows(channel):
        return None
    survey = _new_survey(case, channel, to_address)
    reason = _recently_asked(session, case, channel, to_address, survey.sent_at)
    if reason:
        return _suppress(session, survey, reason)
    session.add(survey)
    session.flush()
    interaction = _ask(session, jurisdiction, case, survey, from_address)
    survey.interaction_id = interaction.id
    if interaction.delivery_status == DeliveryStatus.SUPPRESSED:
        return _suppress(session, survey, interaction.error_code or "suppressed")
    record_event(session, case, "survey_sent", channel=str(channel))
    session.flush()
    return survey


def _survey_of_case(session: Session, case_id: int) -> Survey | None:
    return session.scalars(sa.select(Survey).where(Survey.case_id == case_id)).one_or_none()


def _new_survey(case: Case, channel: Channel, address: str) -> Survey:
    now = utcnow()
    return Survey(
        jurisdiction_id=case.jurisdiction_id,
        case=case,
        resident_id=case.resident_id,
        channel=channel,
        address=address[:320],
        token=secrets.token_urlsafe(24),
        state=SurveyState.SENT,
        comment="",
        sent_at=now,
        expires_at=now + dt.timedelta(days=EXPIRY_DAYS),
    )


def _suppress(session: Session, survey: Survey, reason: str) -> Survey:
    survey.state = SurveyState.SUPPRESSED
    session.add(survey)
    record_event(
        session, survey.case, "survey_suppressed", channel=str(survey.channel), reason=reason
    )
    session.flush()
    return survey


def _recently_asked(
    session: Session, case: Case, channel: Channel, address: str, now: dt.datetime
) -> str:
    """ "recently_surveyed" when this resident (or this address) was asked within
    :data:`QUIET_DAYS` days, else ""."""
    asked = Survey.resident_id == case.resident_id if case.resident_id is not None else sa.false()
    if address:
        asked = sa.or_(asked, sa.and_(Survey.channel == channel, Survey.address == address))
    recent = session.scalar(
        sa.select(Survey.id)
        .where(
            Survey.jurisdiction_id == case.jurisdiction_id,
            Survey.state != SurveyState.SUPPRESSED,
            Survey.sent_at >= now - dt.timedelta(days=QUIET_DAYS),
            asked,
        )
        .limit(1)
    )
    return "recently_surveyed" if recent is not None else ""


def _route(session: Session, case: Case) -> tuple[Channel, str, str] | None:
    """(channel, to, from) to ask on: the way the resident wrote in for a text or an email;
    else their reachable phone or email (for a chat case, only those typed in its chat)."""
    if case.resident_id is None:
        return None
    if case.origin_channel in (Channel.SMS, Channel.EMAIL):
        try:
            to_address, from_address = reply_route(session, case)
        except Invalid:
            return None
        return case.origin_channel, to_address, from_address
    targets = reply_targets(session, case)
    if case.origin_channel is Channel.WEBCHAT:
        typed = _typed_in_chat(session, case.id)
        targets = [t for t in targets if t.address in typed]
    if case.origin_channel is Channel.OPEN311:
        targets.sort(key=lambda t: t.channel is not Channel.EMAIL)
    opted_out = case.resident is not None and case.resident.sms_opted_out
    usable = [t for t in targets if not (t.channel is Channel.SMS and opted_out)]
    # Only an opted-out phone: asked there all the same, so the survey is suppressed with
    # the reason rather than silently missing.
    target = next(iter(usable or targets), None)
    if target is None:
        return None
    return target.channel, target.address, target.sender


def _typed_in_chat(session: Session, case_id: int) -> set[str]:
    rows = session.execute(
        sa.select(ChatSession.phone, ChatSession.email).where(ChatSession.case_id == case_id)
    ).all()
    return {value for row in rows for value in row if value}


def _ask(
    session: Session, jurisdiction: Jurisdiction, case: Case, survey: Survey, from_address: str
) -> Interaction:
    language = resident_language(case)
    params = {"city": jurisdiction.name, "tracking": case.tracking_number}
    if survey.channel is Channel.SMS:
        body = translate(language, texts.SURVEY_SMS, **params)
    else:
        body = translate(
            language,
            texts.SURVEY_EMAIL_BODY,
            service=service_label(case, language),
            link=survey_link(survey.token),
            days=EXPIRY_DAYS,
            **params,
        )
    interaction = queue_message(
        session,
        jurisdiction_id=case.jurisdiction_id,
        channel=survey.channel,
        to_address=survey.address,
        from_address=from_address,
        body=body,
        case=case,
        resident=case.resident,
    )
    interaction.automated = True
    if survey.channel is Channel.EMAIL:
        interaction.subject = translate(language, texts.SURVEY_EMAIL_SUBJECT, **params)
    return interaction


def survey_link(token: str) -> str:
    """The survey page's public address (``PUBLIC_BASE_URL``; the development server without)."""
    base = current_app.config["SETTINGS"].public_base_url.rstrip("/") or DEV_BASE_URL
    return f"{base}/survey/{token}"


# --- Web chat ---------------------------------------------------------------------------------


def _rateable_chat(session: Session, case: Case) -> ChatSession | None:
    """The case's chat whose window can still show a rating: an agent took part (there was a
    conversation to rate) and it is live, or ended within the chat token's grace."""
    if case.origin_channel is not Channel.WEBCHAT:
        return None
    chat = session.scalars(
        sa.select(ChatSession)
        .where(ChatSession.case_id == case.id, ChatSession.agent_id.is_not(None))
        .order_by(ChatSession.id.desc())
        .limit(1)
    ).first()
    if chat is None:
        return None
    if chat.state == ChatState.ENDED and (
        chat.ended_at is None or chat.ended_at < utcnow() - ENDED_TOKEN_GRACE
    ):
        return None
    return chat


def _chat_survey(
    session: Session, jurisdiction: Jurisdiction, case: Case, chat: ChatSession
) -> Survey | None:
    if not survey_settings(jurisdiction).allows(Channel.WEBCHAT):
        return None
    survey = _new_survey(case, Channel.WEBCHAT, chat.visitor_id)
    reason = _recently_asked(session, case, Channel.WEBCHAT, "", survey.sent_at)
    if reason:
        return _suppress(session, survey, reason)
    session.add(survey)
    session.flush()
    record_event(session, case, "survey_sent", channel=str(Channel.WEBCHAT))
    return survey


def offer_chat_survey(session: Session, chat: ChatSession) -> Survey | None:
    """The rating a chat window may show now its chat has ended: the case's survey when it is
    this chat's and still open, a new one if the case has none (and the resident may be
    asked), else None.

    :raises IntegrityError: the case's survey job made one at the same moment (retry).
    """
    if chat.state != ChatState.ENDED or chat.case is None or chat.agent_id is None:
        return None
    existing = _survey_of_case(session, chat.case.id)
    if existing is None:
        jurisdiction = session.get_one(Jurisdiction, chat.jurisdiction_id)
        existing = _chat_survey(session, jurisdiction, chat.case, chat)
    if (
        existing is None
        or existing.channel is not Channel.WEBCHAT
        or existing.address != chat.visitor_id
        or existing.state == SurveyState.SUPPRESSED
    ):
        return None
    return existing


def chat_survey_json(survey: Survey | None) -> dict[str, object] | None:
    """What the chat window needs to show (or thank for) the rating; no token, no case."""
    if survey is None:
        return None
    return {"state": str(effective_state(survey, utcnow())), "score": survey.score}


# --- Answering --------------------------------------------------------------------------------


def effective_state(survey: Survey, now: dt.datetime) -> SurveyState:
    """The state, with a sent survey past its expiry counted as expired (lazily)."""
    if survey.state == SurveyState.SENT and survey.expires_at <= now:
        return SurveyState.EXPIRED
    return survey.state


def answer_survey(session: Session, survey: Survey, score: int, comment: str = "") -> Survey:
    """Record the resident's answer and set the case's satisfaction.

    The change is a conditional UPDATE (sent and not expired), so two answers at once (a
    double click, a provider's retry) record one.

    :raises Invalid: a score outside 1-5 or a comment too long.
    :raises SurveyExpired: past its expiry.
    :raises Conflict: answered already (``survey_answered``) or never sent (``survey_closed``).
    """
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise Invalid("A score is 1 to 5.", code="invalid_score", fields={"score": "1 to 5"})
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid(
            f"A comment can be at most {MAX_COMMENT} characters.",
            code="comment_too_long",
            fields={"comment": f"max {MAX_COMMENT} characters"},
        )
    now = utcnow()
    answered = session.execute(
        sa.update(Survey)
        .where(
            Survey.id == survey.id,
            Survey.state == SurveyState.SENT,
            Survey.expires_at > now,
        )
        .values(state=SurveyState.ANSWERED, score=score, comment=comment, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(survey)
    if answered.rowcount != 1:  # type: ignore[attr-defined]
        state = effective_state(survey, now)
        if state == SurveyState.ANSWERED:
            raise Conflict("This survey was already answered.", code="survey_answered")
        if state == SurveyState.EXPIRED:
            raise SurveyExpired("This survey has expired.")
        raise Conflict("This survey is not open for answers.", code="survey_closed")
    case = survey.case
    case.satisfaction = score
    record_event(
        session, case, "survey_answered", actor="resident", channel=str(survey.channel), score=score
    )
    session.flush()
    return survey


def score_of_text(body: str) -> int | None:
    """The score a text is, if it is nothing but one ("4", " 4 ", "5!")."""
    match = _SCORE_TEXT.fullmatch(unicodedata.normalize("NFKC", body or ""))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class TextAnswer:
    """A text that was the answer to ``survey``; ``repeated`` when it was answered already (a
    second "5" is neither a new answer nor a new request)."""

    survey: Survey
    repeated: bool = False


def answer_by_text(session: Session, message: Interaction) -> TextAnswer | None:
    """An inbound text that is only a score, from a number with a survey sent (or answered)
    and not expired in the jurisdiction texted, when that survey is the last thing the
    resident was asked: that survey's answer.

    The survey is not the last thing asked when the resident is in a conversation on that
    number since: an open case of theirs, begun by text, that was opened after the survey,
    that we wrote on after it (an agent's question), or that waits on them (for a reply or a
    location). Then "3" answers that conversation ("How many potholes?"), not the survey.

    None for anything else (no query is made for a text that is not a score), which then goes
    on to the intake as usual."""
    if message.channel != Channel.SMS or message.direction != Direction.INBOUND:
        return None
    score = score_of_text(message.body)
    if score is None:
        return None
    now = utcnow()
    row = session.execute(
        sa.select(Survey, _in_conversation(message).label("in_conversation"))
        .where(
            Survey.jurisdiction_id == message.jurisdiction_id,
            Survey.channel == Channel.SMS,
            Survey.address == message.from_address,
            Survey.state.in_((SurveyState.SENT, SurveyState.ANSWERED)),
            Survey.expires_at > now,
        )
        .order_by(Survey.sent_at.desc(), Survey.id.desc())
        .limit(1)
        .with_for_update(of=Survey)
    ).first()
    if row is None or row.in_conversation:
        return None
    survey: Survey = row.Survey
    if survey.state == SurveyState.ANSWERED:
        return TextAnswer(survey, repeated=True)
    try:
        return TextAnswer(answer_survey(session, survey, score))
    except Conflict:
        return TextAnswer(survey, repeated=True)  # the same answer, retried at the same time
    except SurveyExpired:
        return None  # expired between the two statements: an ordinary text


def _in_conversation(message: Interaction) -> sa.ColumnElement[bool]:
    """Whether the sender has a conversation by text newer than the survey (see
    :func:`answer_by_text`), for the survey selected with it."""
    resident = message.resident
    if resident is None or resident.id is None:
        return sa.false()
    written_since = (
        sa.select(Interaction.id)
        .where(
            Interaction.case_id == Case.id,
            Interaction.direction == Direction.OUTBOUND,
            Interaction.id > Survey.interaction_id,
        )
        .exists()
    )
    return (
        sa.select(Case.id)
        .where(
            Case.resident_id == resident.id,
            Case.origin_channel == Channel.SMS,
            Case.status.in_(OPEN_STATUSES),
            sa.or_(Case.awaiting.is_not(None), Case.created_at > Survey.sent_at, written_since),
        )
        .exists()
    )


def survey_for_token(session: Session, token: str) -> Survey:
    """:raises NotFound: no survey has this token (or it is not one we could have made)."""
    if not _TOKEN.fullmatch(token or ""):
        raise NotFound("No such survey.", code="survey_not_found")
    survey = session.scalars(sa.select(Survey).where(Survey.token == token)).one_or_none()
    if survey is None or survey.state == SurveyState.SUPPRESSED:
        raise NotFound("No such survey.", code="survey_not_found")
    return survey


def expire_surveys(session: Session, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Write down the expiry of surveys past it (the state is computed anyway): for the tick."""
    now = now or utcnow()
    ids = (
        sa.select(Survey.id)
        .where(Survey.state == SurveyState.SENT, Survey.expires_at <= now)
        .order_by(Survey.expires_at)
        .limit(limit)
        .scalar_subquery()
    )
    done = session.execute(
        sa.update(Survey)
        .where(Survey.id.in_(ids), Survey.state == SurveyState.SENT)
        .values(state=SurveyState.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
