"""Telling residents, in their language, what happened to their case."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from contactcenter import texts
from contactcenter.cases.models import Case, CaseStatus, Interaction
from contactcenter.errors import Invalid
from contactcenter.i18n import translate
from contactcenter.outbound import queue_message, reply_route

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
    try:
        to_address, from_address = reply_route(session, case)
    except Invalid:
        log.info("case %s has no channel to notify the resident on", case.id)
        return None
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
        channel=case.origin_channel,
        to_address=to_address,
        from_address=from_address,
        body=body,
        case=case,
        resident=case.resident,
    )
