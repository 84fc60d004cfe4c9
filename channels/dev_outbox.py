"""A stand-in for Twilio's REST API when no Twilio account is configured.

The embedded demo has no Twilio credentials, yet every outbound message and call must still go
through the same adapter and job code as in production. This transport sits where the real HTTP
client would, answers like Twilio does, and logs the message or call instead of sending it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

log = logging.getLogger("contactcenter.dev_outbox")

CALLS_URL = re.compile(r"/Accounts/(?P<account>[^/]+)/Calls(?:/(?P<sid>[^/]+))?\.json$")
"""Calls.json (a new call) and Calls/<CallSid>.json (a live call redirected or ended)."""


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
        call = CALLS_URL.search(url)
        if call is not None and call["sid"]:
            log.info("DEV OUTBOX call %s (not redirected) url=%s", call["sid"], form.get("Url"))
        elif call is not None:
            log.info(
                "DEV OUTBOX call (not placed) to=%s from=%s url=%s",
                form.get("To"),
                form.get("From"),
                form.get("Url"),
            )
        else:
            log.info(
                "DEV OUTBOX (not sent) to=%s from=%s body=%r",
                form.get("To"),
                form.get("From"),
                form.get("Body"),
            )
        return twilio_answer(url, form, message_sid_prefix="SMdev")


def twilio_answer(url: str, form: dict[str, Any], *, message_sid_prefix: str = "SM") -> Response:
    """Twilio's answer to one of our POSTs: a call created or updated, else a message created."""
    call = CALLS_URL.search(url)
    if call is None:
        return message_created(form, sid_prefix=message_sid_prefix)
    return call_resource(form, account_sid=call["account"], sid=call["sid"])


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


def call_resource(form: dict[str, Any], *, account_sid: str, sid: str | None = None) -> Response:
    """What Twilio answers to Calls.create (201, a new queued call) or to a call's update (200)."""
    created = sid is None
    call_sid = sid or "CA" + secrets.token_hex(16)
    if created:
        status = "queued"
    else:
        status = "completed" if form.get("Status") == "completed" else "in-progress"
    body = {
        "sid": call_sid,
        "account_sid": account_sid,
        "status": status,
        "direction": "outbound-api" if created else "inbound",
        "to": form.get("To"),
        "from": form.get("From"),
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json",
    }
    return Response(201 if created else 200, json.dumps(body))
