"""A caller's walk through the IVR, as the signed requests Twilio sends, one answer at a time.

A call is: ``POST /voice/incoming`` (Twilio's ringing call), then the caller's keys, each one
posted to the ``action`` URL of the ``<Gather>`` in the TwiML that came back (relative: it is
resolved against the URL just requested, as Twilio does; the call's state travels in its
query string), and at the end the status callback ``POST /voice/status``. So the next request
of a call can only be built from the answer to the one before it: :class:`CallWalk` parses
that answer (a regular expression, not an XML parser: the load generator shares the cores
with the servers) and signs the next request (``RequestValidator.compute_signature`` over
``PUBLIC_BASE_URL`` + path + query and the form, the ``X-Twilio-Signature`` header).

The keys a caller presses follow the demo menu, by the node the Gather belongs to (its ``n``):
``welcome`` 1 (English, the language choice), ``main`` 3 (the information submenu),
``info`` 9 (back to the main menu): a long walk is 1, 3, 9, 3, 9, ...

Used by the load generator (``voiceload.py``) and by ``profile_steps.py``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "3c" * 16
NEXT_KEY = {"welcome": "1", "main": "3", "info": "9"}
"""The key pressed at each node of the demo menu (the walk the benchmark takes)."""
INCOMING, LANGUAGE, STEP, STATUS = "incoming", "language", "step", "status"
KINDS = (INCOMING, LANGUAGE, STEP, STATUS)

_GATHER = re.compile(rb"<Gather\b[^>]*?\saction=\"([^\"]*)\"")


def gather_action(body: bytes) -> str | None:
    """The ``action`` URL of the first ``<Gather>`` in a TwiML document (unescaped)."""
    found = _GATHER.search(body)
    return html.unescape(found.group(1).decode()) if found else None


def node_of(path: str) -> str:
    """The menu node a step URL is for (its ``n`` query parameter)."""
    query = path.partition("?")[2]
    return next((value for key, value in parse_qsl(query) if key == "n"), "")


class Signer:
    """Twilio's request for ``path`` with ``params``, signed for ``base_url`` + path."""

    def __init__(self, base_url: str, auth_token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        host = self.base_url.split("//", 1)[1]
        self.head = (
            "Host: " + host + "\r\n"
            "User-Agent: TwilioProxy/1.1\r\n"
            "Accept: */*\r\n"
            "Cache-Control: max-age=259200\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
        )

    def signature(self, path: str, params: dict[str, str]) -> str:
        return str(self.validator.compute_signature(self.base_url + path, params))

    def raw(self, path: str, params: dict[str, str]) -> bytes:
        """The exact bytes of the HTTP/1.1 request."""
        body = urlencode(params).encode()
        return (
            f"POST {path} HTTP/1.1\r\n{self.head}X-Twilio-Signature: "
            f"{self.signature(path, params)}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    def resolve(self, current_path: str, action: str) -> str:
        """A TwiML URL (relative or absolute) as a path on this server, as Twilio resolves it."""
        absolute = urljoin(self.base_url + current_path, action)
        if not absolute.startswith(self.base_url + "/"):
            raise ValueError(f"action {action!r} leaves {self.base_url}")
        return absolute[len(self.base_url) :]


@dataclass(frozen=True)
class Caller:
    """Who calls: the call's sid and number; ``to`` is the 3-1-1 number."""

    sid: str
    number: str
    to: str

    def params(self, call_status: str) -> dict[str, str]:
        """The form fields Twilio posts to every voice webhook of an inbound call."""
        local = {"City": "OTTAWA", "Country": "CA", "State": "ON", "Zip": ""}
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": call_status,
            "Called": self.to,
            **{f"Called{k}": v for k, v in local.items()},
            "Caller": self.number,
            **{f"Caller{k}": v for k, v in local.items()},
            "Direction": "inbound",
            "From": self.number,
            **{f"From{k}": v for k, v in local.items()},
            "To": self.to,
            **{f"To{k}": v for k, v in local.items()},
        }


@dataclass
class CallWalk:
    """One call, request by request: :meth:`next_request`, send it, :meth:`answered`.

    From the start (``path=None``): incoming, the language choice, ``menu_steps`` menu steps,
    the status callback. From a Gather URL of a call already in progress (``path``): only the
    ``menu_steps`` menu steps (what the closed loop measures).
    """

    signer: Signer
    caller: Caller
    menu_steps: int
    path: str | None = None
    status_callback: bool = True
    keys: dict[str, str] = field(default_factory=lambda: dict(NEXT_KEY))
    plan: list[str] = field(init=False)
    position: int = 0
    node: str = ""

    def __post_init__(self) -> None:
        start = [] if self.path else [INCOMING, LANGUAGE]
        end = [STATUS] if self.status_callback and not self.path else []
        self.plan = [*start, *[STEP] * self.menu_steps, *end]
        if self.path:
            self.node = node_of(self.path)

    @property
    def done(self) -> bool:
        return self.position >= len(self.plan)

    @property
    def kind(self) -> str:
        return self.plan[self.position]

    def next_form(self) -> tuple[str, str, dict[str, str]]:
        """(kind, path, form fields) of the next request."""
        kind = self.kind
        if kind == INCOMING:
            return kind, "/voice/incoming", self.caller.params("ringing")
        if kind == STATUS:
            duration = str(20 + 7 * self.menu_steps)
            params = self.caller.params("completed")
            params.update(
                CallDuration=duration,
                Duration=str(1 + int(duration) // 60),
                CallbackSource="call-progress-events",
                SequenceNumber="0",
                Timestamp="Mon, 30 Nov 2026 15:00:00 +0000",
            )
            return kind, "/voice/status", params
        if self.path is None:
            raise RuntimeError("no Gather to answer")
        key = self.keys.get(self.node)
        if key is None:
            raise UnexpectedNode(self.node)
        params = self.caller.params("in-progress")
        params.update(Digits=key, FinishedOnKey="", msg="Gather End")
        return kind, self.path, params

    def next_request(self) -> tuple[str, bytes]:
        """(kind, raw request bytes) of the next request."""
        kind, path, params = self.next_form()
        return kind, self.signer.raw(path, params)

    def answered(self, status: int, body: bytes) -> str:
        """Take the answer to the request just sent: "200" if it is what a caller needs (TwiML,
        with a Gather to go on where the call goes on), else what is wrong with it."""
        kind, path = self.kind, self.path
        self.position += 1
        if status != 200:
            return str(status)
        if b"<Response" not in body:
            return "200-not-twiml"
        if kind == STATUS:
            return "200"
        action = gather_action(body)
        if action is None:
            self.position = len(self.plan)  # nothing to go on with: the call ends here
            return "200-no-gather"
        current = "/voice/incoming" if kind == INCOMING else (path or "")
        self.path = self.signer.resolve(current, action)
        self.node = node_of(self.path)
        return "200"


class UnexpectedNode(Exception):
    """The menu asked something the benchmark's walk has no key for."""


def callers(prefix: str, number_base: int, seed: int, to: str) -> Iterator[Caller]:
    """Distinct callers (each a first-time caller: the language choice is always asked),
    with unique ``CA`` + 32 hex call sids."""
    import random

    rng = random.Random(seed)
    n = 0
    while True:
        number = f"+1{prefix}{number_base + n:07d}"
        n += 1
        yield Caller(f"CA{rng.getrandbits(128):032x}", number, to)
