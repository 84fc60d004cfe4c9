"""A hosted mail service's inbound webhook: Mailgun's routes, raw MIME form.

Point a Mailgun route's ``forward()`` at ``https://<host>/email/inbound/mime``: because the
URL ends in ``mime``, Mailgun posts the message untouched in ``body-mime`` (we parse MIME
ourselves, exactly as for mail from our SMTP listener), with the envelope's ``recipient`` and
``sender`` and its signature fields ``timestamp``, ``token`` and ``signature`` =
HMAC-SHA256(signing key, timestamp + token), hex.

Answers: 200 once the raw message is committed; 403 when ``INBOUND_EMAIL_SIGNING_KEY`` is not
set or the signature is missing or wrong; 400 for missing fields; 406 for a recipient no
jurisdiction owns (Mailgun's "rejected, do not retry"); 413 over ``EMAIL_MAX_BYTES``. Any
other answer makes Mailgun retry for hours, so a retried POST is harmless: the second copy is
filed as a duplicate of the first (same Message-ID).

Mailgun's signature covers the timestamp and token only, not the message: serve this route
over HTTPS so a signed request cannot be captured and replayed with other contents. The
timestamp's age is not checked, because Mailgun's retries of one POST go on for 8 hours.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Blueprint, current_app, request
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import RequestEntityTooLarge

from channels.email.ingest import accept, queue_processing
from contactcenter.config import Settings
from contactcenter.db import get_session
from contactcenter.errors import DomainError, Forbidden, Invalid, NotFound
from contactcenter.mail.service import QUEUE_PROCESSING

bp = Blueprint("email", __name__, url_prefix="/email")

SOURCE = "webhook"
FORM_OVERHEAD = 1024 * 1024
"""Room for the other fields and multipart framing around the message itself."""


class Rejected(DomainError):
    """Mailgun's 406: the POST is rejected and must not be retried."""

    status = 406
    code = "rejected"


@bp.record_once
def _offer_processing(state: BlueprintSetupState) -> None:
    # The core's staff API retries quarantined mail through this, without knowing channels.
    state.app.extensions[QUEUE_PROCESSING] = queue_processing


def _settings() -> Settings:
    settings: Settings = current_app.config["SETTINGS"]
    return settings


@bp.before_request
def _allow_whole_messages() -> None:
    """This route alone takes bodies up to ``EMAIL_MAX_BYTES`` (the app's default is small)."""
    limit = _settings().email_max_bytes
    request.max_content_length = limit + FORM_OVERHEAD
    request.max_form_memory_size = limit + FORM_OVERHEAD


def signature_is_valid(key: str, timestamp: str, token: str, signature: str) -> bool:
    if not (key and timestamp and token and signature):
        return False
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


@bp.post("/inbound/mime")
def inbound_mime() -> dict[str, Any]:
    settings = _settings()
    if not settings.inbound_email_signing_key:
        raise Forbidden(
            "The inbound email webhook is not configured (INBOUND_EMAIL_SIGNING_KEY).",
            code="webhook_not_configured",
        )
    form = request.form
    if not signature_is_valid(
        settings.inbound_email_signing_key,
        form.get("timestamp", ""),
        form.get("token", ""),
        form.get("signature", ""),
    ):
        current_app.logger.warning("rejected inbound email webhook with a bad signature")
        raise Forbidden("Invalid webhook signature.", code="bad_signature")
    data = _message_bytes()
    recipients = [r.strip() for r in form.get("recipient", "").split(",") if r.strip()]
    missing = {
        name: "required"
        for name, present in (("recipient", recipients), ("body-mime", data))
        if not present
    }
    if missing:
        raise Invalid("Missing fields.", code="missing_fields", fields=missing)
    assert data is not None
    if len(data) > settings.email_max_bytes:
        raise RequestEntityTooLarge(f"Messages are limited to {settings.email_max_bytes} bytes.")
    try:
        stored = accept(
            get_session(),
            data=data,
            recipients=recipients,
            envelope_from=form.get("sender", ""),
            source=SOURCE,
        )
    except NotFound as exc:
        raise Rejected(exc.message, code="unknown_recipient") from None
    return {"data": {"stored": [raw.id for raw in stored]}}


def _message_bytes() -> bytes | None:
    upload = request.files.get("body-mime")
    if upload is not None:
        return upload.read() or None
    text = request.form.get("body-mime", "")
    # Form fields arrive decoded as UTF-8; MIME is 7-bit or UTF-8 in practice, and a stray
    # byte of another charset only costs that character.
    return text.encode("utf-8", "surrogateescape") if text else None
