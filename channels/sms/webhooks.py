"""Twilio Messaging webhooks: inbound SMS and delivery-status callbacks.

Answers: 200 with TwiML (also for a Twilio retry), 400 for malformed input, 403 for a bad
signature, 404 for a number no jurisdiction owns, 413 for an oversized body. Never a 500.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from channels.sms.parse import parse_inbound, parse_status
from channels.twilio_client import require_twilio_signature
from contactcenter.db import get_session
from contactcenter.errors import Invalid
from contactcenter.inbox import accept_and_commit
from contactcenter.messages import Channel
from contactcenter.outbound import record_delivery_status

bp = Blueprint("sms", __name__, url_prefix="/sms")

_EMPTY_TWIML = str(MessagingResponse())


def _twiml() -> Response:
    return Response(_EMPTY_TWIML, mimetype="text/xml")


@bp.post("/inbound")
@require_twilio_signature
def inbound_sms() -> Response:
    message = parse_inbound(request.form)
    accepted = accept_and_commit(get_session(), message)
    if accepted.duplicate:
        current_app.logger.info("sms %s is a retry; already stored", message.provider_id)
    return _twiml()


@bp.post("/status")
@require_twilio_signature
def delivery_status() -> Response:
    sid, status, error_code = parse_status(request.form)
    raw_id = request.args.get("interaction", "")
    if raw_id and not raw_id.isdigit():
        raise Invalid("interaction must be a number.", code="bad_interaction")
    session = get_session()
    if status is None:
        current_app.logger.info(
            "ignored delivery status %r for %s", request.form.get("MessageStatus"), sid
        )
        return _twiml()
    record_delivery_status(
        session,
        channel=Channel.SMS,
        provider_id=sid,
        status=status,
        error_code=error_code,
        interaction_id=int(raw_id) if raw_id else None,
    )
    session.commit()
    return _twiml()
