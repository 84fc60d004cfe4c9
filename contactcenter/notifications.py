"""Telling residents, in their language, what happened to their case."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from contactcenter import texts
from contactcenter.cases.models import Case, CaseStatus, Interaction
from contactcenter.errors import Invalid
from contactcenter.i18n import translate
from contactcenter.messages import Channel
from contactcenter.outbound import queue_message, reply_route, reply_targets

log = logging.getLogger(__name__)

_STATUS_TEXTS = {
    CaseStatus.RESOLVED: texts.CASE_RESOLVED,
    CaseStatus.CLOSED: texts.CASE_CLOSED,
}


def service_label(case: Case, language: str) -> str:
    if case.service_type is not None:
        return case.service_type.localized_name(language)
    return translate(language, texts.GENERAL_SERVICE)


def resident_language(case: Case) -> str:
    if case.resident is not None and case.resident.preferred_language:
        return case.resident.preferred_language
    return case.language


def notify_status_change(
    session: Session, case: Case, old_status: CaseStatus
) -> Interaction | None:
    """Tell the resident their case was resolved, closed or reopened, on its own channel."""
    if case.status in _STATUS_TEXTS:
        if old_status == CaseStatus.RESOLVED and case.status == CaseStatus.CLOSED:
            return None  # they were told at resolution; closing after it is bookkeeping
        message = _STATUS_TEXTS[case.status]
    elif old_status in _STATUS_TEXTS:
        message = texts.CASE_REOPENED
    else:
        return None
    route = _notification_route(session, case)
    if route is None:
        log.info("case %s has no channel to notify the resident on", case.id)
        return None
    channel, to_address, from_address = route
    language = resident_language(case)
    body = translate(
        language,
        message,
        city=case.jurisdiction.name,
        tracking=case.tracking_number,
        service=service_label(case, language),
    )
    return queue_message(
        session,
        jurisdiction_id=case.jurisdiction_id,
        channel=channel,
        to_address=to_address,
        from_address=from_address,
        body=body,
        case=case,
        resident=case.resident,
    )


def _notification_route(session: Session, case: Case) -> tuple[Channel, str, str] | None:
    """(channel, to, from) for news of the case: its own channel, except that a web chat is
    long closed by the time a case is resolved, so chat cases are told by text or email at
    the phone number or address the resident left (the chat's own room as a last resort).
    An Open311 case (filed by an app) has no channel back at all: it is told by email when
    its resident has one, else by text; with neither, not at all."""
    if case.origin_channel in (Channel.WEBCHAT, Channel.OPEN311):
        opted_out = case.resident is not None and case.resident.sms_opted_out
        targets = reply_targets(session, case)
        if case.origin_channel is Channel.OPEN311:
            targets.sort(key=lambda t: t.channel is not Channel.EMAIL)
        for target in targets:
            if not (target.channel is Channel.SMS and opted_out):
                return target.channel, target.address, target.sender
    try:
        to_address, from_address = reply_route(session, case)
    except Invalid:
        return None
    return case.origin_channel, to_address, from_address
