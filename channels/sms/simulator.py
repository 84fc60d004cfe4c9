"""Building an inbound-SMS webhook exactly as Twilio would send it (for `simulate sms`)."""

from __future__ import annotations

import secrets

from twilio.request_validator import RequestValidator

from channels.twilio_client import DEV_ACCOUNT_SID
from contactcenter.config import Settings


def signed_inbound_sms(
    settings: Settings, *, server_url: str, from_: str, to: str, body: str
) -> tuple[str, dict[str, str], str]:
    """(endpoint, form params, X-Twilio-Signature) for one inbound text."""
    endpoint = server_url.rstrip("/") + "/sms/inbound"
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": settings.twilio_account_sid or DEV_ACCOUNT_SID,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    signed_url = (
        settings.public_base_url.rstrip("/") + "/sms/inbound"
        if settings.public_base_url
        else endpoint
    )
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(signed_url, params)
    return endpoint, params, signature
