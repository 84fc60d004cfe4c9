"""Twilio's inbound-SMS form -> :class:`InboundMessage`."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from contactcenter.errors import Invalid
from contactcenter.messages import Channel, InboundMessage

MAX_MEDIA = 10  # Twilio sends at most 10 media items per message
MAX_ADDRESS = 64  # E.164 is 16 characters; alphanumeric sender ids are shorter still
MAX_MEDIA_URL = 2000


def parse_inbound(form: MultiDict[str, str]) -> InboundMessage:
    """:raises Invalid: a required field is missing or malformed (the webhook answers 400)."""
    missing = [name for name in ("MessageSid", "From", "To") if not form.get(name, "").strip()]
    if "Body" not in form:
        missing.append("Body")
    if missing:
        raise Invalid(
            "Missing " + ", ".join(missing) + ".",
            code="missing_fields",
            fields={name: "required" for name in missing},
        )
    sid = form["MessageSid"].strip()
    if not sid.isalnum() or len(sid) > 64:
        raise Invalid(
            "MessageSid is malformed.", code="bad_message_sid", fields={"MessageSid": sid[:64]}
        )
    try:
        num_media = int(form.get("NumMedia", "0") or "0")
    except ValueError:
        raise Invalid(
            "NumMedia must be a number.", code="bad_num_media", fields={"NumMedia": "integer"}
        ) from None
    if not 0 <= num_media <= MAX_MEDIA:
        raise Invalid(
            f"NumMedia must be 0 to {MAX_MEDIA}.", code="bad_num_media", fields={"NumMedia": "0-10"}
        )
    too_long = {
        name: f"at most {MAX_ADDRESS} characters"
        for name in ("From", "To")
        if len(form[name].strip()) > MAX_ADDRESS
    }
    if too_long:
        raise Invalid("An address is too long.", code="bad_address", fields=too_long)
    media = tuple(
        url for url in (form.get(f"MediaUrl{i}", "").strip() for i in range(num_media)) if url
    )
    if any(len(url) > MAX_MEDIA_URL or not url.startswith("https://") for url in media):
        raise Invalid(
            "Media URLs must be https:// and at most 2000 characters.", code="bad_media_url"
        )
    return InboundMessage(
        channel=Channel.SMS,
        provider_id=sid,
        from_address=_text(form["From"]).strip(),
        to_address=_text(form["To"]).strip(),
        body=_text(form["Body"]),
        media_urls=media,
    )


def _text(value: str) -> str:
    """NUL can't be stored in PostgreSQL text and is never meaningful in an SMS: drop it."""
    return value.replace("\x00", "")


# Twilio's message statuses -> ours. "receiving"/"received" concern inbound messages only.
TWILIO_STATUSES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def parse_status(form: MultiDict[str, str]) -> tuple[str, str | None, str]:
    """(MessageSid, our delivery status or None if it is not one we track, ErrorCode).

    :raises Invalid: a required field is missing.
    """
    sid = form.get("MessageSid", "").strip()
    status = form.get("MessageStatus", form.get("SmsStatus", "")).strip().lower()
    if not sid or not status:
        raise Invalid("Missing MessageSid or MessageStatus.", code="missing_fields")
    return sid, TWILIO_STATUSES.get(status), form.get("ErrorCode", "").strip()
