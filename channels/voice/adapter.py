"""Steering live calls through the Twilio REST client: the core's :class:`CallControl` port."""

from __future__ import annotations

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from contactcenter.calls.control import CallControlError
from contactcenter.config import Settings

DEV_BASE_URL = "http://127.0.0.1:5000"
"""Where the IVR answers when PUBLIC_BASE_URL is unset (development, the dev outbox)."""

# 21220: the call is not in progress (the caller hung up before we could redirect it).
GONE_ERRORS = {21220}


def _error(exc: TwilioException) -> CallControlError:
    if isinstance(exc, TwilioRestException):
        gone = exc.code in GONE_ERRORS or exc.status == 404
        return CallControlError(f"Twilio {exc.code or exc.status}: {exc.msg}", gone=gone)
    return CallControlError(str(exc))


class TwilioCallControl:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.base_url = settings.public_base_url.rstrip("/") or DEV_BASE_URL

    def connect_to_agent(self, call_sid: str, *, call_id: int, agent_id: int) -> None:
        """Redirect the call: leaving its ``<Enqueue>``, it runs the TwiML that dials the agent."""
        try:
            self.client.calls(call_sid).update(
                url=f"{self.base_url}/voice/connect?call={call_id}&agent={agent_id}",
                method="POST",
            )
        except TwilioException as exc:
            raise _error(exc) from exc

    def call_back(self, *, to: str, from_: str, call_id: int, agent_id: int) -> str:
        """A new outbound call; when the resident answers, the IVR rings the agent."""
        try:
            created = self.client.calls.create(
                to=to,
                from_=from_,
                url=f"{self.base_url}/voice/callback?call={call_id}&agent={agent_id}",
                method="POST",
                status_callback=f"{self.base_url}/voice/status",
                status_callback_method="POST",
            )
        except TwilioException as exc:
            raise _error(exc) from exc
        return str(created.sid)
