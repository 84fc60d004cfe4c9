"""A stand-in for Twilio's REST API when no Twilio account is configured.

The embedded demo has no Twilio credentials, yet every outbound message must still go through
the same adapter and job code as in production. This transport sits where the real HTTP client
would, answers like Twilio does, and logs the message instead of sending it.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

log = logging.getLogger("contactcenter.dev_outbox")


class DevOutboxHttpClient(HttpClient):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(logger=log, is_async=False)

    def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        form = dict(data or {})
        log.info(
            "DEV OUTBOX (not sent) to=%s from=%s body=%r",
            form.get("To"),
            form.get("From"),
            form.get("Body"),
        )
        return message_created(form, sid_prefix="SMdev")


def message_created(form: dict[str, Any], *, sid_prefix: str = "SM") -> Response:
    """What Twilio answers to Messages.create: 201 with the new message's SID."""
    sid = sid_prefix + secrets.token_hex(16)
    body = {
        "sid": sid,
        "status": "queued",
        "to": form.get("To"),
        "from": form.get("From"),
        "body": form.get("Body"),
    }
    return Response(201, json.dumps(body))
