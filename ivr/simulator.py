"""A simulated caller: walks a whole call through our voice webhooks the way Twilio would.

City staff run it from the terminal (``contactcenter ivr simulate``) and the tests drive whole
calls with it, so both see what Twilio would do with our TwiML: every request signed with the
auth token, relative URLs resolved against the URL that returned them, a queue waited in round
by round, the status callback at the end. Time is estimated, never waited for.

The caller follows a script of inputs: digits (``"12#"``) are keys, other text is speech, ``""``
is silence, ``!wait`` lets one round of a queue's wait pass, ``!hangup`` hangs up. When the
script runs out, ``ask`` is asked; without it the caller hangs up (or, in a queue, keeps
waiting for ``queue_wait_rounds`` rounds and leaves the call there).
"""

from __future__ import annotations

import contextvars
import math
import re
import secrets
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NoReturn, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from channels.twilio_client import DEV_ACCOUNT_SID

if TYPE_CHECKING:
    from flask.testing import FlaskClient

HANGUP = "!hangup"
WAIT = "!wait"
MAX_REQUESTS = 200
"""Per call: a webhook that keeps redirecting to itself must fail the walk, not hang it."""
SPEECH_CONFIDENCE = "0.92"
CHARACTERS_PER_SECOND = 15
TWILIO_API = "https://api.twilio.com/2010-04-01"

_DIGITS = re.compile(r"[0-9*#]+")
_HEARD = frozenset({"Say", "Play", "Pause"})

Form = list[tuple[str, str]]


class WalkError(Exception):
    """The call cannot go on as Twilio would take it: an error answer, bad TwiML or a loop."""


class _CallerHungUp(Exception):
    """The caller hung up: unwinds to the end of the call."""


class Transport(Protocol):
    def post(self, url: str, params: Form, headers: dict[str, str]) -> tuple[int, str]:
        """(status code, body) of a form POST to an absolute URL."""


class FlaskTransport:
    """Posts to a Flask test client; the app sees the path and query of the absolute URL."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def post(self, url: str, params: Form, headers: dict[str, str]) -> tuple[int, str]:
        # An empty context: each request gets its own application context (and ``g``), as in
        # production, even when the caller holds one (the CLI runs inside the app's context).
        return contextvars.Context().run(self._post, url, params, headers)

    def _post(self, url: str, params: Form, headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(path, data=MultiDict(params), headers=headers)
        return response.status_code, response.get_data(as_text=True)


class HttpTransport:
    """Posts to a running server over HTTP."""

    timeout = 15.0

    def post(self, url: str, params: Form, headers: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(  # noqa: S310 - the operator's own server
            url, data=urlencode(params).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return int(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")
        except OSError as exc:
            raise WalkError(f"cannot reach {url}: {exc}") from exc


_FORMATS = {
    "play": "CALLER HEARS AUDIO: {text}",
    "pause": "[pause, {text} s]",
    "press": "CALLER PRESSES {text}",
    "speak": "CALLER SAYS: {text}",
    "silence": "CALLER SAYS NOTHING",
    "record": "CALLER RECORDS: {text}",
    "hangup": "CALLER HANGS UP",
}


@dataclass(frozen=True)
class Event:
    """One thing that happened on the call: what the caller heard or did, or a step of Twilio."""

    kind: str
    text: str = ""
    voice: str = ""
    language: str = ""

    def __str__(self) -> str:
        if self.kind == "say":
            where = f" ({self.language})" if self.language else ""
            return f"CALLER HEARS{where}: {self.text}"
        return _FORMATS.get(self.kind, "[{text}]").format(text=self.text)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Transcription:
    """A transcription Twilio will post later to a ``<Record transcribeCallback>``."""

    callback_url: str
    recording_sid: str
    recording_url: str
    text: str
    sid: str = field(default_factory=lambda: _sid("TR"))


@dataclass(frozen=True)
class _Goto:
    url: str
    params: dict[str, str]


@dataclass
class _Queue:
    action: str
    wait_url: str
    seconds: int = 0


Outcome = _Goto | Literal["next", "stop"]
WaitOutcome = Literal["wait", "left", "ended"]


class CallWalker:
    """One caller on one inbound call; ``call()`` walks it (see the module docstring)."""

    def __init__(
        self,
        *,
        transport: Transport,
        auth_token: str,
        base_url: str,
        to: str,
        from_: str,
        call_sid: str | None = None,
        account_sid: str = DEV_ACCOUNT_SID,
        direction: str = "inbound",
        inputs: Iterable[str] = (),
        ask: Callable[[str], str] | None = None,
        on_twiml: Callable[[str, str], None] | None = None,
        echo: Callable[[str], None] | None = None,
        queue_wait_rounds: int = 3,
        seconds_per_wait_round: int = 30,
        dial_status: str = "completed",
        dial_seconds: int = 60,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.to, self.from_ = to, from_
        self.call_sid = call_sid or _sid("CA")
        self.account_sid, self.direction = account_sid, direction
        self.ask, self.on_twiml, self.echo = ask, on_twiml, echo
        self.queue_wait_rounds = queue_wait_rounds
        self.seconds_per_wait_round = seconds_per_wait_round
        self.dial_status, self.dial_seconds = dial_status, dial_seconds
        self.queue_sid = _sid("QU")
        self.state: Literal["idle", "in_progress", "in_queue", "ended"] = "idle"
        self.heard: list[str] = []
        self.transcript: list[Event] = []
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.transcriptions: list[Transcription] = []
        self._seconds = 0
        self._inputs = deque(inputs)
        self._queue: _Queue | None = None
        self._validator = RequestValidator(auth_token)
        self._verbs: dict[str, Callable[[str, ET.Element], Outcome]] = {
            "Gather": self._gather_verb,
            "Record": self._record,
            "Redirect": lambda url, verb: _Goto(_redirect_url(url, verb), {}),
            "Enqueue": self._enqueue,
            "Leave": lambda url, verb: "next",
            "Dial": self._dial,
            "Hangup": lambda url, verb: "stop",
            "Reject": lambda url, verb: "stop",
        }

    @property
    def duration(self) -> int:
        """Simulated seconds so far: speech, pauses, queue rounds, the dialled leg, recordings."""
        return max(1, self._seconds)

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- What a test or the CLI calls --------------------------------------------------------

    def call(self) -> None:
        """Ring ``/voice/incoming`` and follow the call until it ends or waits in a queue."""
        if self.state != "idle":
            raise WalkError(f"this walker's call has already started (state {self.state})")
        self.state = "in_progress"
        self._follow(self.url("/voice/incoming"), {"CallStatus": "ringing"})

    def resume(self, url: str) -> None:
        """Continue the live call at URL, as Twilio does when our server redirects it (REST)."""
        if self.state == "ended":
            raise WalkError("the call has ended; it cannot be redirected")
        queue, self._queue = self._queue, None
        if queue is not None and queue.action:
            self._note("queue", "redirected out of the queue")
            self._notify(queue.action, self._queue_result(queue, "redirected"))
        self.state = "in_progress"
        self._follow(url, {})

    def hang_up(self) -> None:
        """The caller hangs up now (a waiting caller abandons the queue), then the status."""
        if self.state == "ended":
            return
        self._note("hangup")
        if self._queue is not None:
            self._abandon(self._queue)
        self._end()

    def post(self, url: str, **params: str) -> tuple[int, str]:
        """One signed request with the call's parameters (and these): for retries in tests."""
        status, body = self._post_signed(url, {**self._common(), **params})
        if 200 <= status < 300 and body.strip() and self.on_twiml is not None:
            self.on_twiml(url, body)
        return status, body

    def deliver_transcriptions(self, status: str = "completed") -> None:
        """Post every pending transcription; calling it again is what a Twilio retry does."""
        for item in self.transcriptions:
            params = {
                "TranscriptionSid": item.sid,
                "TranscriptionText": item.text if status == "completed" else "",
                "TranscriptionStatus": status,
                "TranscriptionUrl": f"{self._account_url()}/Transcriptions/{item.sid}",
                "RecordingSid": item.recording_sid,
                "RecordingUrl": item.recording_url,
                "CallSid": self.call_sid,
                "AccountSid": self.account_sid,
            }
            self._notify(item.callback_url, params, common=False)

    # --- Following TwiML ---------------------------------------------------------------------

    def _follow(self, url: str, params: dict[str, str]) -> None:
        step: _Goto | None = _Goto(url, params)
        try:
            while step is not None:
                document = self._fetch(step.url, step.params)
                step = self._perform(step.url, document)
        except _CallerHungUp:
            pass
        if self.state != "in_queue":
            self._end()

    def _perform(self, url: str, document: ET.Element) -> _Goto | None:
        """Play one document: the next request to make, or None when the call stops here."""
        for verb in document:
            if verb.tag in _HEARD:
                self._hear(verb, waiting=False)
                continue
            handler = self._verbs.get(verb.tag)
            if handler is None:
                raise WalkError(f"{url}: the walker does not simulate <{verb.tag}>")
            outcome = handler(url, verb)
            if outcome == "stop":
                return None
            if isinstance(outcome, _Goto):
                return outcome
        return None

    def _hear(self, verb: ET.Element, *, waiting: bool) -> None:
        """Say, Play or Pause; time spent in a queue is counted by rounds instead."""
        if verb.tag == "Say":
            text = " ".join("".join(verb.itertext()).split())
            self.heard.append(text)
            self._note("say", text, voice=verb.get("voice", ""), language=verb.get("language", ""))
            seconds = math.ceil(len(text) / CHARACTERS_PER_SECOND)
        elif verb.tag == "Play":
            self._note("play", (verb.text or "").strip() or f"digits {verb.get('digits', '')}")
            seconds = 0
        else:
            seconds = int(verb.get("length", "1"))
            self._note("pause", str(seconds))
        if not waiting:
            self._seconds += seconds

    def _gather_verb(self, url: str, verb: ET.Element) -> Outcome:
        return self._gather(url, verb, waiting=False) or "next"

    def _gather(self, url: str, verb: ET.Element, *, waiting: bool) -> _Goto | None:
        """Prompts, then the caller's answer: the action to post, or None to go on."""
        for child in verb:
            if child.tag not in _HEARD:
                raise WalkError(f"{url}: <{child.tag}> cannot be nested in <Gather>")
            self._hear(child, waiting=waiting)
        action = urljoin(url, verb.get("action", ""))
        answer = self._answer(verb, waiting=waiting)
        if answer is not None:
            return _Goto(action, answer)
        if verb.get("actionOnEmptyResult") == "true":
            return _Goto(action, {})
        return None

    def _answer(self, verb: ET.Element, *, waiting: bool) -> dict[str, str] | None:
        modes = set(verb.get("input", "dtmf").split())
        wanted = [name for mode, name in (("dtmf", "keys"), ("speech", "words")) if mode in modes]
        prompt = "Your " + " or ".join(wanted)
        raw = self._take_while_waiting(prompt) if waiting else self._take(prompt)
        if raw is None:
            return None
        if raw == HANGUP:
            self._caller_hangs_up()
        if raw in ("", WAIT):
            self._note("silence")
            return None
        if _DIGITS.fullmatch(raw):
            if "dtmf" not in modes:
                self._note("note", f"keys {raw} not taken: this <Gather> listens for words")
                return None
            digits = _gathered_digits(raw, verb)
            if not digits:
                self._note("silence")
                return None
            self._note("press", digits)
            return {"Digits": digits}
        if "speech" not in modes:
            self._note("note", f"words {raw!r} not heard: this <Gather> listens for keys")
            return None
        self._note("speak", raw)
        return {"SpeechResult": raw, "Confidence": SPEECH_CONFIDENCE}

    def _record(self, url: str, verb: ET.Element) -> Outcome:
        raw = self._take("Your message (recorded)")
        hung_up = raw == HANGUP
        if raw in ("", WAIT):
            self._note("silence")
            return "next"  # an empty recording: Twilio requests no action, it goes on
        words = "" if hung_up else raw
        seconds = 1 + len(words.split()) // 2
        limit = verb.get("maxLength")
        if limit:
            seconds = max(1, min(seconds, int(limit)))
        self._seconds += seconds
        recording_sid = _sid("RE")
        recording_url = f"{self._account_url()}/Recordings/{recording_sid}"
        if words:
            self._note("record", words)
        callback = verb.get("transcribeCallback")
        if callback:
            self.transcriptions.append(
                Transcription(urljoin(url, callback), recording_sid, recording_url, words)
            )
        action = urljoin(url, verb.get("action", ""))
        params = {
            "RecordingUrl": recording_url,
            "RecordingSid": recording_sid,
            "RecordingDuration": str(seconds),
            "Digits": "hangup" if hung_up else "#",
        }
        if hung_up:
            self._note("hangup")
            self._notify(action, params)
            raise _CallerHungUp
        return _Goto(action, params)

    def _dial(self, url: str, verb: ET.Element) -> Outcome:
        """The other leg is not walked: it ends with ``dial_status`` after ``dial_seconds``."""
        targets = [f"{child.tag.lower()} {(child.text or '').strip()}" for child in verb]
        seconds = self.dial_seconds if self.dial_status in ("completed", "answered") else 0
        self._seconds += seconds
        target = ", ".join(targets) or (verb.text or "").strip()
        self._note("dial", f"dialling {target}: {self.dial_status} after {seconds} s")
        action = verb.get("action")
        if not action:
            return "next"  # as Twilio: on to the next verb, and the end of the call after the last
        params = {
            "DialCallStatus": self.dial_status,
            "DialCallDuration": str(seconds),
            "DialCallSid": _sid("CA"),
        }
        return _Goto(urljoin(url, action), params)

    # --- Waiting in a queue ------------------------------------------------------------------

    def _enqueue(self, url: str, verb: ET.Element) -> Outcome:
        action, wait_url = verb.get("action"), verb.get("waitUrl")
        queue = _Queue(
            action=urljoin(url, action) if action else "",
            wait_url=urljoin(url, wait_url) if wait_url else "",
        )
        self._queue = queue
        self._note("queue", f"enters queue {(verb.text or '').strip()}")
        outcome = self._wait(queue)
        if outcome == "wait":
            self.state = "in_queue"
            return "stop"
        self._queue = None
        if outcome == "ended":
            return "stop"
        self._note("queue", "leaves the queue")
        if queue.action:
            return _Goto(queue.action, self._queue_result(queue, "leave"))
        return "next"

    def _wait(self, queue: _Queue) -> WaitOutcome:
        """Round after round of the wait URL; "wait" when the caller is left waiting."""
        rounds = 0
        try:
            while True:
                self._note("queue", f"waiting in queue, position 1, {queue.seconds} s")
                outcome = self._wait_round(queue) if queue.wait_url else "wait"
                if outcome != "wait":
                    return outcome
                rounds += 1
                queue.seconds += self.seconds_per_wait_round
                self._seconds += self.seconds_per_wait_round
                upcoming = self._inputs[0].strip() if self._inputs else None
                if upcoming in (HANGUP, WAIT):  # no <Gather> took it this round
                    self._inputs.popleft()
                    if upcoming == HANGUP:
                        self._caller_hangs_up()
                if self._inputs:
                    continue  # a scripted answer waits for a <Gather> in a later round
                if self.ask is None:
                    if rounds >= self.queue_wait_rounds:
                        return "wait"
                elif (
                    rounds % self.queue_wait_rounds == 0
                    and self._take("Still in the queue: Enter keeps waiting") == HANGUP
                ):
                    self._caller_hangs_up()
        except _CallerHungUp:
            self._abandon(queue)
            raise

    def _wait_round(self, queue: _Queue) -> WaitOutcome:
        step = _Goto(queue.wait_url, self._queue_params(queue))
        while True:
            document = self._fetch(step.url, step.params)
            outcome = self._perform_waiting(step.url, document, queue)
            if not isinstance(outcome, _Goto):
                return outcome
            step = outcome

    def _perform_waiting(
        self, url: str, document: ET.Element, queue: _Queue
    ) -> _Goto | WaitOutcome:
        for verb in document:
            if verb.tag in _HEARD:
                self._hear(verb, waiting=True)
            elif verb.tag == "Gather":
                step = self._gather(url, verb, waiting=True)
                if step is not None:
                    return step
            elif verb.tag == "Redirect":
                return _Goto(_redirect_url(url, verb), self._queue_params(queue))
            elif verb.tag == "Leave":
                return "left"
            elif verb.tag == "Hangup":
                return "ended"
            else:
                raise WalkError(
                    f"{url}: <{verb.tag}> is not allowed in a queue's wait TwiML (Twilio allows"
                    " Say, Play, Pause, Gather, Leave, Redirect and Hangup)"
                )
        return "wait"

    def _abandon(self, queue: _Queue) -> None:
        self._queue = None
        if queue.action:
            self._notify(queue.action, self._queue_result(queue, "hangup"))

    def _queue_params(self, queue: _Queue) -> dict[str, str]:
        return {
            "QueueSid": self.queue_sid,
            "QueuePosition": "1",
            "QueueTime": str(queue.seconds),
            "AvgQueueTime": "0",
            "CurrentQueueSize": "1",
        }

    def _queue_result(self, queue: _Queue, result: str) -> dict[str, str]:
        return {"QueueResult": result, "QueueSid": self.queue_sid, "QueueTime": str(queue.seconds)}

    # --- The caller's inputs -----------------------------------------------------------------

    def _take(self, prompt: str) -> str:
        """The caller's next input; when the script runs out and nobody is asked, they hang up."""
        if self._inputs:
            return self._inputs.popleft().strip()
        if self.ask is not None:
            return self.ask(prompt).strip()
        self._note("note", "no more inputs")
        return HANGUP

    def _take_while_waiting(self, prompt: str) -> str | None:
        """In a queue, nothing left to say is no answer: the caller keeps waiting."""
        if not self._inputs and self.ask is None:
            return None
        return self._take(prompt)

    def _caller_hangs_up(self) -> NoReturn:
        self._note("hangup")
        raise _CallerHungUp

    # --- Requests ----------------------------------------------------------------------------

    def _end(self) -> None:
        if self.state == "ended":
            return
        self.state = "ended"
        self._queue = None
        self._note("end", f"call ended after {self.duration} s")
        status = {"CallStatus": "completed", "CallDuration": str(self.duration)}
        self._notify(self.url("/voice/status"), status)

    def _fetch(self, url: str, params: dict[str, str]) -> ET.Element:
        """A request whose answer is the TwiML to follow next."""
        return self._twiml(url, self._exchange(url, {**self._common(), **params}))

    def _notify(self, url: str, params: dict[str, str], *, common: bool = True) -> None:
        """A request whose answer Twilio ignores (it must still succeed, and be TwiML if any)."""
        body = self._exchange(url, {**self._common(), **params} if common else params)
        if body.strip():
            self._twiml(url, body)

    def _exchange(self, url: str, params: dict[str, str]) -> str:
        status, body = self._post_signed(url, params)
        if not 200 <= status < 300:
            raise WalkError(f"POST {url} answered HTTP {status}: {_excerpt(body)}")
        return body

    def _twiml(self, url: str, body: str) -> ET.Element:
        try:
            document = ET.fromstring(body)  # noqa: S314 - TwiML from the server under test
        except ET.ParseError as exc:
            raise WalkError(
                f"POST {url} answered something not XML ({exc}): {_excerpt(body)}"
            ) from exc
        if document.tag != "Response":
            raise WalkError(f"POST {url} answered <{document.tag}>, not a TwiML <Response>")
        if self.on_twiml is not None:
            self.on_twiml(url, body)
        return document

    def _post_signed(self, url: str, params: dict[str, str]) -> tuple[int, str]:
        if len(self.sent) >= MAX_REQUESTS:
            last = ", ".join(sent_url for sent_url, _ in self.sent[-5:])
            raise WalkError(
                f"more than {MAX_REQUESTS} requests in one call (a loop?); last: {last}"
            )
        self.sent.append((url, dict(params)))
        signature: str = self._validator.compute_signature(url, params)
        return self.transport.post(url, list(params.items()), {"X-Twilio-Signature": signature})

    def _common(self) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "From": self.from_,
            "To": self.to,
            "Caller": self.from_,
            "Called": self.to,
            "CallStatus": "in-progress",
            "Direction": self.direction,
            "ApiVersion": "2010-04-01",
        }

    def _account_url(self) -> str:
        return f"{TWILIO_API}/Accounts/{self.account_sid}"

    def _note(self, kind: str, text: str = "", *, voice: str = "", language: str = "") -> None:
        event = Event(kind, text, voice, language)
        self.transcript.append(event)
        if self.echo is not None:
            self.echo(str(event))


def _gathered_digits(raw: str, verb: ET.Element) -> str:
    """Keys as Twilio reports them: without the finishing key, at most ``numDigits``."""
    finish = verb.get("finishOnKey", "#")
    if finish and raw.endswith(finish):
        raw = raw[: -len(finish)]
    limit = verb.get("numDigits")
    return raw[: int(limit)] if limit else raw


def _redirect_url(url: str, verb: ET.Element) -> str:
    target = (verb.text or "").strip()
    if not target:
        raise WalkError(f"{url}: <Redirect> without a URL")
    return urljoin(url, target)


def _excerpt(body: str, limit: int = 300) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."
