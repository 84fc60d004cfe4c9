"""A Twilio HTTP transport that records requests instead of sending them.

It sits exactly where twilio's own ``TwilioHttpClient`` would, so the REST client, the adapter,
the job and everything above run for real; only the bytes never leave the machine.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from twilio.http import HttpClient
from twilio.http.response import Response

from channels.dev_outbox import CALLS_URL, twilio_answer


@dataclass
class CapturedRequest:
    method: str
    url: str
    data: dict[str, Any]
    auth: tuple[str, str] | None


@dataclass
class CapturingHttpClient(HttpClient):
    requests: list[CapturedRequest] = field(default_factory=list)
    _failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(logger=logging.getLogger("tests.twilio_http"), is_async=False)

    def reset(self) -> None:
        self.requests.clear()
        self._failures.clear()

    def fail_next(self, status: int, code: int, message: str = "error") -> None:
        """The next request gets a Twilio error response."""
        self._failures.append(
            (status, {"code": code, "message": message, "status": status, "more_info": ""})
        )

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Form bodies of the Messages.create calls, oldest first."""
        return [r.data for r in self.requests if r.url.endswith("/Messages.json")]

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Form bodies of the Calls.create calls, oldest first."""
        return [r.data for r in self.requests if r.url.endswith("/Calls.json")]

    @property
    def call_updates(self) -> list[tuple[str, dict[str, Any]]]:
        """(CallSid, form body) of each update of a live call (redirect, hang-up), oldest first."""
        updates = []
        for r in self.requests:
            match = CALLS_URL.search(r.url)
            if match is not None and match["sid"] and r.method == "POST":
                updates.append((match["sid"], r.data))
        return updates

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
        self.requests.append(CapturedRequest(method, url, dict(data or {}), auth))
        if self._failures:
            status, body = self._failures.pop(0)
            return Response(status, json.dumps(body))
        return twilio_answer(url, dict(data or {}))
