"""A hosted mail service's inbound webhook: Mailgun's routes, raw MIME form.

Point a Mailgun route's ``forward()`` at ``https://<host>/email/inbound/mime``: because the
URL ends in ``mime``, Mailgun posts the message untouched in ``body-mime`` (we parse MIME
ourselves, exactly as for mail from our SMTP listener), with the envelope's ``recipient`` and
``sender`` and its signature fields ``timestamp``, ``token`` and ``signature`` =
HMAC-SHA256(signing key, timestamp + token), hex.

Answers: 200 once the raw message is committed; 403 when ``INBOUND_EMAIL_SIGNING_KEY`` is not
set, the signature is missing or wrong, its timestamp is too old or in the future, or its
token was already used with another message; 400 for missing fields; 406 for a recipient no
jurisdiction owns (Mailgun's "rejected, do not retry"); 413 over ``EMAIL_MAX_BYTES``. Any
other answer makes Mailgun retry for hours, so a retried POST is harmless: the second copy is
filed as a duplicate of the first (same Message-ID).

Mailgun's signature covers the timestamp and token only, not the message, so a captured
signed request must not serve again with other contents: a timestamp older than
:data:`MAX_AGE` (Mailgun retries one POST for up to 8 hours) or more than :data:`MAX_AHEAD` in
the future is refused, and each token is remembered for as long with the digest of its
message (:mod:`channels.email.replay`): a token seen with another message is refused. Serve
the route over HTTPS all the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import time
from typing import Any

from flask import Blueprint, current_app, request
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import RequestEntityTooLarge

from channels.email.ingest import accept, queue_processing
from channels.email.replay import SeenTokens
from contactcenter.config import Settings
from contactcenter.db import get_session
from contactcenter.errors import DomainError, Forbidden, Invalid, NotFound
from contactcenter.mail.service import QUEUE_PROCESSING

bp = Blueprint("email", __name__, url_prefix="/email")

SOURCE = "webhook"
FORM_OVERHEAD = 1024 * 1024
"""Room for the other fields and multipart framing around the message itself."""
MAX_AGE = dt.timedelta(hours=9)
"""How old a signed timestamp may be: Mailgun retries a POST for up to 8 hours."""
MAX_AHEAD = dt.timedelta(minutes=5)
"""How far ahead of our clock a timestamp may be (clocks drift a little)."""
SIGNATURE = re.compile(r"[0-9a-f]{64}")
TOKENS = "email_webhook_tokens"


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
    """HMAC-SHA256(key, timestamp + token) in hex. Anything that is not 64 hex digits is
    wrong before any comparison (``compare_digest`` refuses non-ASCII text)."""
    if not (key and timestamp and token and signature):
        return False
    given = signature.strip().lower()
    if not SIGNATURE.fullmatch(given):
        return False
    message = (timestamp + token).encode("utf-8", "surrogatepass")
    expected = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode())


def timestamp_is_fresh(timestamp: str, now: float | None = None) -> bool:
    """Signed no longer than :data:`MAX_AGE` ago nor more than :data:`MAX_AHEAD` ahead."""
    try:
        signed_at = float(timestamp)
    except ValueError:
        return False
    if not math.isfinite(signed_at):
        return False
    now = time.time() if now is None else now
    return -MAX_AHEAD.total_seconds() <= now - signed_at <= MAX_AGE.total_seconds()


def _seen_tokens() -> SeenTokens:
    tokens: SeenTokens | None = current_app.extensions.get(TOKENS)
    if tokens is None:
        redis = current_app.extensions["jobs"].redis
        # Remembered as long as its timestamp can still pass: a timestamp from a little in the
        # future stays valid MAX_AHEAD longer than MAX_AGE after it is first seen.
        keep = MAX_AGE + MAX_AHEAD + dt.timedelta(minutes=1)
        tokens = SeenTokens(redis, ttl_seconds=int(keep.total_seconds()))
        tokens = current_app.extensions.setdefault(TOKENS, tokens)
    return tokens


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
    if not timestamp_is_fresh(form.get("timestamp", "")):
        current_app.logger.warning("rejected inbound email webhook with a stale timestamp")
        raise Forbidden("The webhook signature has expired.", code="stale_signature")
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
    # The recipients are bound to the token too: a captured request cannot be re-posted to
    # another of the addresses we host.
    bound = ",".join(sorted(r.lower() for r in recipients)).encode() + b"\n" + data
    if not _seen_tokens().admit(form.get("token", ""), bound):
        current_app.logger.warning("rejected inbound email webhook replaying a used token")
        raise Forbidden("This webhook token was already used.", code="replayed_token")
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
