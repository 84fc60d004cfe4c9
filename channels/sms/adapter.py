"""Sending one SMS through the Twilio REST client."""

from __future__ import annotations

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from channels.sms.parse import TWILIO_STATUSES
from contactcenter.config import Settings
from contactcenter.messages import Channel, DeliveryError, OutboundMessage, ProviderReceipt

# Twilio errors that no retry can fix: https://www.twilio.com/docs/api/errors
# 21211 invalid 'To', 21408 region not enabled, 21610 recipient replied STOP,
# 21612 unreachable 'To', 21614 not a mobile number.
PERMANENT_ERRORS = {21211, 21408, 21610, 21612, 21614}


class SmsAdapter:
    channel = Channel.SMS

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.public_base_url = settings.public_base_url.rstrip("/")

    def send(self, message: OutboundMessage) -> ProviderReceipt:
        callback = (
            f"{self.public_base_url}/sms/status?interaction={message.interaction_id}"
            if self.public_base_url
            else None
        )
        try:
            created = self.client.messages.create(
                to=message.to_address,
                from_=message.from_address,
                body=message.body,
                media_url=list(message.media_urls) or None,
                status_callback=callback,
            )
        except TwilioRestException as exc:
            raise DeliveryError(
                exc.msg, code=str(exc.code or exc.status), permanent=exc.code in PERMANENT_ERRORS
            ) from exc
        except TwilioException as exc:
            raise DeliveryError(str(exc), code="twilio_error") from exc
        status = TWILIO_STATUSES.get(str(created.status or ""), "queued")
        return ProviderReceipt(provider_id=str(created.sid), status=status)
