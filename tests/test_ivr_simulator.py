"""The caller simulator against a tiny hand-written voice app, and the TwiML checker.

The app here is not the project's: it checks Twilio's signature on every request, records it,
and answers the TwiML each test scripts, so the walker is tested apart from the real webhooks.
"""

from __future__ import annotations

import math
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, abort, g, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.serving import make_server

from ivr.simulator import CallWalker, FlaskTransport, HttpTransport, Transport, WalkError
from tests import twiml_check
from tests.twiml_check import assert_valid_twiml

TOKEN = "walker-test-token"
BASE = "http://localhost"
CITY = "+16135550311"
RESIDENT = "+16135550100"


@dataclass
class Received:
    path: str
    form: dict[str, str]


Page = str | Callable[[Received], str | tuple[str, int]]


@dataclass
class VoiceApp:
    """Answers each path with the TwiML a test gives it, after checking Twilio's signature."""

    pages: dict[str, Page] = field(default_factory=lambda: {"/voice/status": "<Response/>"})
    received: list[Received] = field(default_factory=list)
    flask: Flask = field(default_factory=lambda: Flask(__name__))

    def __post_init__(self) -> None:
        self.flask.add_url_rule("/<path:path>", view_func=self._serve, methods=["POST"])

    def _serve(self, path: str) -> Response:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(TOKEN).validate(request.url, request.form, signature):
            abort(403)
        query = request.query_string.decode()
        received = Received("/" + path + (f"?{query}" if query else ""), request.form.to_dict())
        self.received.append(received)
        page = self.pages.get("/" + path)
        if page is None:
            abort(404)
        answer = page if isinstance(page, str) else page(received)
        body, status = (answer, 200) if isinstance(answer, str) else answer
        return Response(body, status=status, mimetype="text/xml")

    def forms(self, path: str) -> list[dict[str, str]]:
        """What was posted to PATH (query string included when given), oldest first."""
        return [r.form for r in self.received if r.path == path or r.path.split("?")[0] == path]

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.received]

    def walker(
        self, *inputs: str, transport: Transport | None = None, base_url: str = BASE, **options: Any
    ) -> CallWalker:
        return CallWalker(
            transport=transport or FlaskTransport(self.flask.test_client()),
            auth_token=TOKEN,
            base_url=base_url,
            to=CITY,
            from_=RESIDENT,
            inputs=inputs,
            on_twiml=lambda url, body: assert_valid_twiml(body),
            **options,
        )


@pytest.fixture
def voice() -> VoiceApp:
    return VoiceApp()


def twiml(*verbs: str) -> str:
    return "<Response>" + "".join(verbs) + "</Response>"


MENU = twiml(
    '<Gather numDigits="1" action="/voice/menu">',
    '<Say voice="Polly.Joanna-Neural" language="en-US">Press 1 for potholes.</Say>',
    "</Gather>",
)


def said_back(received: Received) -> str:
    heard = received.form.get("Digits") or received.form.get("SpeechResult") or "nothing"
    return twiml(f"<Say>You chose {heard}.</Say>", "<Hangup/>")


# --- Starting and ending a call ----------------------------------------------------------------


def test_the_call_starts_with_twilios_parameters_and_ends_with_the_status_callback(
    voice: VoiceApp,
) -> None:
    voice.pages["/voice/incoming"] = twiml("<Say>Hello.</Say>")
    walker = voice.walker()
    walker.call()
    assert voice.paths == ["/voice/incoming", "/voice/status"]
    first, status = voice.forms("/voice/incoming")[0], voice.forms("/voice/status")[0]
    assert first == {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": walker.call_sid,
        "From": RESIDENT,
        "To": CITY,
        "Caller": RESIDENT,
        "Called": CITY,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    assert re.fullmatch(r"CA[0-9a-f]{32}", walker.call_sid)
    assert status["CallStatus"] == "completed" and status["CallSid"] == walker.call_sid
    assert walker.state == "ended"
    assert walker.heard == ["Hello."]


def test_every_request_is_signed_with_the_auth_token(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml("<Say>Hello.</Say>")
    walker = voice.walker()
    walker.transport.post(f"{BASE}/voice/incoming", [("CallSid", walker.call_sid)], {})
    assert voice.received == []  # refused: unsigned
    forged = CallWalker(
        transport=FlaskTransport(voice.flask.test_client()),
        auth_token="someone-elses-token",
        base_url=BASE,
        to=CITY,
        from_=RESIDENT,
    )
    with pytest.raises(WalkError, match="HTTP 403"):
        forged.call()


def test_each_request_gets_its_own_application_context(voice: VoiceApp) -> None:
    def fresh(received: Received) -> str | tuple[str, int]:
        if "seen" in g:
            return "g was shared with an earlier request", 500
        g.seen = True
        return MENU if received.path == "/voice/incoming" else said_back(received)

    voice.pages["/voice/incoming"] = voice.pages["/voice/menu"] = fresh
    with voice.flask.app_context():  # as the CLI runs: inside the app's context
        voice.walker("1").call()
    assert voice.paths == ["/voice/incoming", "/voice/menu", "/voice/status"]


def test_the_status_callback_reports_the_simulated_duration(voice: VoiceApp) -> None:
    text = "Welcome to the city of Springfield."
    voice.pages["/voice/incoming"] = twiml(f"<Say>{text}</Say>", '<Pause length="5"/>')
    voice.walker().call()
    # About one second per 15 characters of speech, plus the pause.
    expected = math.ceil(len(text) / 15) + 5
    assert voice.forms("/voice/status")[0]["CallDuration"] == str(expected)


# --- Gather ------------------------------------------------------------------------------------


def test_gather_digits_are_posted_to_the_action_url(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = MENU
    voice.pages["/voice/menu"] = said_back
    walker = voice.walker("1")
    walker.call()
    [menu] = voice.forms("/voice/menu")
    assert menu["Digits"] == "1"
    assert menu["CallStatus"] == "in-progress"
    assert "SpeechResult" not in menu
    assert walker.heard == ["Press 1 for potholes.", "You chose 1."]
    assert walker.state == "ended"


def test_relative_urls_resolve_against_the_url_that_returned_the_twiml(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml('<Gather action="step?n=main&amp;l=en"/>')
    voice.pages["/voice/step"] = twiml("<Redirect>again?x=1</Redirect>")
    voice.pages["/voice/again"] = twiml("<Hangup/>")
    voice.walker("2").call()
    assert voice.paths == [
        "/voice/incoming",
        "/voice/step?n=main&l=en",
        "/voice/again?x=1",
        "/voice/status",
    ]


def test_a_gather_without_action_posts_back_to_its_own_url(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = lambda r: (
        twiml("<Gather/>") if "Digits" not in r.form else twiml("<Hangup/>")
    )
    voice.walker("5").call()
    assert [f.get("Digits") for f in voice.forms("/voice/incoming")] == [None, "5"]


@pytest.mark.parametrize(
    ("finish", "keys", "digits"), [("", "12345670#", "12345670"), ('finishOnKey="*"', "12*", "12")]
)
def test_the_finishing_key_is_not_part_of_the_digits(
    voice: VoiceApp, finish: str, keys: str, digits: str
) -> None:
    voice.pages["/voice/incoming"] = twiml(f'<Gather action="/voice/menu" {finish}/>')
    voice.pages["/voice/menu"] = said_back
    voice.walker(keys).call()
    assert voice.forms("/voice/menu")[0]["Digits"] == digits


def test_speech_is_posted_as_a_speech_result_with_its_confidence(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml(
        '<Gather input="dtmf speech" action="/voice/menu" speechTimeout="auto" language="en-US">',
        "<Say>Where is it?</Say></Gather>",
    )
    voice.pages["/voice/menu"] = said_back
    walker = voice.walker("12 Main Street")
    walker.call()
    [menu] = voice.forms("/voice/menu")
    assert menu["SpeechResult"] == "12 Main Street"
    assert menu["Confidence"] == "0.92"
    assert "Digits" not in menu
    assert walker.heard[-1] == "You chose 12 Main Street."


def test_words_at_a_keys_only_gather_are_no_input(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml(
        '<Gather action="/voice/menu" actionOnEmptyResult="true"><Say>Press a key.</Say></Gather>'
    )
    voice.pages["/voice/menu"] = said_back
    voice.walker("pothole").call()
    [menu] = voice.forms("/voice/menu")
    assert "Digits" not in menu and "SpeechResult" not in menu


def test_silence_posts_an_empty_result_when_action_on_empty_result_is_true(
    voice: VoiceApp,
) -> None:
    voice.pages["/voice/incoming"] = twiml(
        '<Gather action="/voice/menu" actionOnEmptyResult="true"><Say>Press a key.</Say></Gather>'
    )
    voice.pages["/voice/menu"] = said_back
    walker = voice.walker("")
    walker.call()
    [menu] = voice.forms("/voice/menu")
    assert "Digits" not in menu and "SpeechResult" not in menu
    assert walker.heard[-1] == "You chose nothing."


def test_silence_without_action_on_empty_result_goes_on_to_the_next_verb(
    voice: VoiceApp,
) -> None:
    voice.pages["/voice/incoming"] = twiml(
        '<Gather action="/voice/menu"><Say>Press a key.</Say></Gather>',
        "<Say>We did not hear you. Goodbye.</Say>",
    )
    walker = voice.walker("")
    walker.call()
    assert voice.paths == ["/voice/incoming", "/voice/status"]
    assert walker.heard == ["Press a key.", "We did not hear you. Goodbye."]


def test_a_caller_whose_script_runs_out_hangs_up(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = MENU
    walker = voice.walker()
    walker.call()
    assert voice.paths == ["/voice/incoming", "/voice/status"]
    assert walker.transcript[-2].kind == "hangup"
    assert walker.state == "ended"


def test_the_hangup_token_ends_the_call_at_a_gather(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = MENU
    voice.walker("!hangup", "1").call()
    assert voice.paths == ["/voice/incoming", "/voice/status"]


def test_a_caller_without_a_script_is_asked_at_the_keyboard(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = MENU
    voice.pages["/voice/menu"] = said_back
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return "3"

    voice.walker(ask=ask).call()
    assert prompts == ["Your keys"]
    assert voice.forms("/voice/menu")[0]["Digits"] == "3"


# --- Record ------------------------------------------------------------------------------------

VOICEMAIL = twiml(
    "<Say>Leave a message after the tone.</Say>",
    '<Record action="/voice/recorded" maxLength="120" transcribe="true"'
    ' transcribeCallback="/voice/transcription"/>',
)


def test_a_recording_is_posted_and_its_transcription_arrives_later(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = VOICEMAIL
    voice.pages["/voice/recorded"] = twiml("<Say>Thank you.</Say>", "<Hangup/>")
    voice.pages["/voice/transcription"] = "<Response/>"
    walker = voice.walker("the streetlight on Elm Street is out")
    walker.call()
    [recorded] = voice.forms("/voice/recorded")
    sid = recorded["RecordingSid"]
    assert re.fullmatch(r"RE[0-9a-f]{32}", sid)
    assert recorded["RecordingUrl"] == (
        f"https://api.twilio.com/2010-04-01/Accounts/{'AC' + '0' * 32}/Recordings/{sid}"
    )
    assert recorded["RecordingDuration"] == "4"  # seven words
    assert recorded["Digits"] == "#"
    assert walker.heard[-1] == "Thank you."
    assert voice.forms("/voice/transcription") == []

    walker.deliver_transcriptions()
    walker.deliver_transcriptions()  # a retry: the same transcription again
    first, again = voice.forms("/voice/transcription")
    assert first == again
    assert first["TranscriptionText"] == "the streetlight on Elm Street is out"
    assert first["TranscriptionStatus"] == "completed"
    assert first["RecordingSid"] == sid and first["RecordingUrl"] == recorded["RecordingUrl"]
    assert first["CallSid"] == walker.call_sid
    assert first["TranscriptionUrl"].endswith("/Transcriptions/" + first["TranscriptionSid"])


def test_hanging_up_during_a_recording_still_posts_it_then_ends_the_call(
    voice: VoiceApp,
) -> None:
    voice.pages["/voice/incoming"] = VOICEMAIL
    voice.pages["/voice/recorded"] = twiml("<Say>Thank you.</Say>")
    walker = voice.walker("!hangup")
    walker.call()
    assert voice.paths == ["/voice/incoming", "/voice/recorded", "/voice/status"]
    assert voice.forms("/voice/recorded")[0]["Digits"] == "hangup"
    assert "Thank you." not in walker.heard


def test_an_empty_recording_requests_no_action(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = VOICEMAIL.replace("</Response>", "<Say>Bye.</Say></Response>")
    walker = voice.walker("")
    walker.call()
    assert voice.paths == ["/voice/incoming", "/voice/status"]
    assert walker.heard[-1] == "Bye."


# --- Queue -------------------------------------------------------------------------------------

ENQUEUE = twiml(
    "<Say>Please hold.</Say>",
    '<Enqueue action="/voice/queue/done" waitUrl="/voice/queue/wait"'
    ' waitUrlMethod="POST">city</Enqueue>',
)
HOLD = twiml("<Say>Please keep holding.</Say>", '<Pause length="20"/>')


def test_a_waiting_caller_who_presses_1_leaves_the_queue(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = twiml(
        "<Say>You are number 1 in line.</Say>",
        '<Gather numDigits="1" action="/voice/queue/choice" timeout="8">',
        "<Say>Press 1 to be called back.</Say></Gather>",
        '<Pause length="20"/>',
    )
    voice.pages["/voice/queue/choice"] = lambda r: (
        twiml("<Say>We will call you back.</Say>", "<Leave/>") if r.form["Digits"] == "1" else HOLD
    )
    voice.pages["/voice/queue/done"] = twiml("<Say>Goodbye.</Say>", "<Hangup/>")
    walker = voice.walker("!wait", "1")
    walker.call()
    waits = voice.forms("/voice/queue/wait")
    assert [w["QueueTime"] for w in waits] == ["0", "30"]
    assert re.fullmatch(r"QU[0-9a-f]{32}", waits[0]["QueueSid"])
    assert {w["QueueSid"] for w in waits} == {walker.queue_sid}
    assert {(w["QueuePosition"], w["CurrentQueueSize"], w["AvgQueueTime"]) for w in waits} == {
        ("1", "1", "0")
    }
    assert voice.forms("/voice/queue/choice")[0]["Digits"] == "1"
    [done] = voice.forms("/voice/queue/done")
    assert done["QueueResult"] == "leave" and done["QueueTime"] == "30"
    assert walker.heard[-2:] == ["We will call you back.", "Goodbye."]
    assert walker.state == "ended"


def test_a_caller_left_waiting_stays_in_the_queue_until_redirected(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = HOLD
    voice.pages["/voice/queue/done"] = twiml("<Say>Ignored.</Say>")
    voice.pages["/voice/connect"] = twiml(
        "<Say>Connecting you to an agent.</Say>",
        '<Dial action="/voice/dial/done" answerOnBridge="true"><Client>agent-7</Client></Dial>',
    )
    voice.pages["/voice/dial/done"] = twiml("<Hangup/>")
    walker = voice.walker()
    walker.call()
    assert walker.state == "in_queue"
    assert [w["QueueTime"] for w in voice.forms("/voice/queue/wait")] == ["0", "30", "60"]
    assert voice.forms("/voice/status") == []

    before = len(voice.received)
    walker.resume(f"{BASE}/voice/connect?agent=7")
    assert voice.paths[before:] == [
        "/voice/queue/done",
        "/voice/connect?agent=7",
        "/voice/dial/done",
        "/voice/status",
    ]
    [done] = voice.forms("/voice/queue/done")
    assert done["QueueResult"] == "redirected" and done["QueueTime"] == "90"
    [dialled] = voice.forms("/voice/dial/done")
    assert dialled["DialCallStatus"] == "completed"
    assert dialled["DialCallDuration"] == "60"
    assert re.fullmatch(r"CA[0-9a-f]{32}", dialled["DialCallSid"])
    assert "Ignored." not in walker.heard
    assert walker.heard[-1] == "Connecting you to an agent."
    assert walker.state == "ended"


def test_hanging_up_in_the_queue_posts_the_queue_result_then_the_status(
    voice: VoiceApp,
) -> None:
    voice.pages["/voice/incoming"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = HOLD
    voice.pages["/voice/queue/done"] = "<Response/>"
    walker = voice.walker("!hangup")
    walker.call()
    assert voice.paths == [
        "/voice/incoming",
        "/voice/queue/wait",
        "/voice/queue/done",
        "/voice/status",
    ]
    done = voice.forms("/voice/queue/done")[0]
    assert done["QueueResult"] == "hangup" and done["QueueTime"] == "30"
    assert walker.state == "ended"


def test_wait_tokens_let_rounds_pass_without_a_gather(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = HOLD
    voice.pages["/voice/queue/done"] = "<Response/>"
    voice.walker("!wait", "!wait", "!hangup", queue_wait_rounds=1).call()
    assert [w["QueueTime"] for w in voice.forms("/voice/queue/wait")] == ["0", "30", "60"]
    assert voice.forms("/voice/queue/done")[0]["QueueResult"] == "hangup"


def test_hang_up_ends_a_call_left_in_the_queue(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = HOLD
    voice.pages["/voice/queue/done"] = "<Response/>"
    walker = voice.walker(queue_wait_rounds=1)
    walker.call()
    walker.hang_up()
    assert voice.paths[-2:] == ["/voice/queue/done", "/voice/status"]
    assert voice.forms("/voice/queue/done")[0]["QueueResult"] == "hangup"
    assert walker.state == "ended"


def test_a_wait_document_may_not_dial(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = twiml("<Dial><Number>+16135550199</Number></Dial>")
    with pytest.raises(WalkError, match="<Dial> is not allowed"):
        voice.walker().call()


# --- Dial --------------------------------------------------------------------------------------


def test_an_unanswered_dial_reports_its_status_to_the_action(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml(
        '<Dial action="/voice/dial/done" timeout="20"><Number>+16135550199</Number></Dial>'
    )
    voice.pages["/voice/dial/done"] = twiml("<Say>Nobody answered.</Say>")
    walker = voice.walker(dial_status="no-answer")
    walker.call()
    [dialled] = voice.forms("/voice/dial/done")
    assert dialled["DialCallStatus"] == "no-answer" and dialled["DialCallDuration"] == "0"
    assert walker.heard == ["Nobody answered."]
    assert walker.state == "ended"


# --- Errors and raw requests -------------------------------------------------------------------


def test_a_redirect_loop_is_stopped_after_200_requests(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml("<Redirect>/voice/incoming</Redirect>")
    with pytest.raises(WalkError, match=r"200 requests.*/voice/incoming"):
        voice.walker().call()
    assert len(voice.received) == 200


def test_a_server_error_stops_the_walk_naming_the_status_and_url(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = MENU
    voice.pages["/voice/menu"] = lambda r: ("Internal Server Error", 500)
    with pytest.raises(WalkError, match=r"/voice/menu answered HTTP 500: Internal Server Error"):
        voice.walker("1").call()


@pytest.mark.parametrize(
    ("body", "problem"), [("Hello there", "not XML"), ("<Say>Hi</Say>", "not a TwiML <Response>")]
)
def test_an_answer_that_is_not_twiml_stops_the_walk(
    voice: VoiceApp, body: str, problem: str
) -> None:
    voice.pages["/voice/incoming"] = body
    with pytest.raises(WalkError, match=problem):
        voice.walker().call()


def test_post_sends_one_signed_request_and_returns_what_came_back(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = twiml("<Say>Hello.</Say>")
    walker = voice.walker()
    first = walker.post(f"{BASE}/voice/incoming", CallStatus="ringing")
    again = walker.post(f"{BASE}/voice/incoming", CallStatus="ringing")
    assert first == again == (200, twiml("<Say>Hello.</Say>"))
    assert [f["CallStatus"] for f in voice.forms("/voice/incoming")] == ["ringing", "ringing"]
    assert walker.sent[0] == (f"{BASE}/voice/incoming", voice.forms("/voice/incoming")[0])
    assert walker.post(f"{BASE}/voice/missing")[0] == 404
    assert walker.state == "idle"


def test_the_transcript_says_what_the_caller_heard_and_did(voice: VoiceApp) -> None:
    voice.pages["/voice/incoming"] = MENU
    voice.pages["/voice/menu"] = twiml(
        '<Gather input="speech" action="/voice/where"><Say>Where?</Say></Gather>'
    )
    voice.pages["/voice/where"] = ENQUEUE
    voice.pages["/voice/queue/wait"] = HOLD
    voice.pages["/voice/queue/done"] = "<Response/>"
    lines: list[str] = []
    walker = voice.walker("1", "Main Street", queue_wait_rounds=2, echo=lines.append)
    walker.call()
    assert lines[:4] == [
        "CALLER HEARS (en-US): Press 1 for potholes.",
        "CALLER PRESSES 1",
        "CALLER HEARS: Where?",
        "CALLER SAYS: Main Street",
    ]
    assert "[waiting in queue, position 1, 30 s]" in lines
    assert lines == [str(event) for event in walker.transcript]
    assert walker.transcript[0].voice == "Polly.Joanna-Neural"


# --- Over real HTTP ----------------------------------------------------------------------------


@pytest.fixture
def served(voice: VoiceApp) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, voice.flask, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join()


def test_the_http_transport_walks_a_running_server(voice: VoiceApp, served: str) -> None:
    voice.pages["/voice/incoming"] = MENU
    voice.pages["/voice/menu"] = said_back
    walker = voice.walker("1", transport=HttpTransport(), base_url=served)
    walker.call()
    assert walker.heard == ["Press 1 for potholes.", "You chose 1."]
    assert walker.state == "ended"


def test_the_http_transport_reports_a_server_it_cannot_reach(voice: VoiceApp) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    walker = voice.walker(transport=HttpTransport(), base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(WalkError, match="cannot reach"):
        walker.call()


# --- The TwiML checker -------------------------------------------------------------------------


@pytest.fixture(params=["schema", "table"])
def twiml_rules(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> str:
    """Both ways of checking: Twilio's schema, and the built-in table used without it."""
    if request.param == "schema" and not twiml_check.XSD_PATH.exists():
        pytest.skip(f"{twiml_check.XSD_PATH} is absent (shared test data): no schema check")
    if request.param == "table":
        monkeypatch.setattr(twiml_check, "XSD_PATH", tmp_path / "absent.xsd")
    return str(request.param)


def modern_document() -> str:
    response = VoiceResponse()
    gather = Gather(
        action="/voice/step?n=main",
        method="POST",
        input="dtmf speech",
        timeout=5,
        num_digits=1,
        action_on_empty_result=True,
        language="fr-CA",
        speech_timeout="auto",
        hints="nid-de-poule, lampadaire",
    )
    gather.say("Bonjour.", voice="Polly.Gabrielle-Neural", language="fr-CA")
    response.append(gather)
    response.say("Hola.", voice="Polly.Lupe-Neural", language="es-US")
    response.enqueue("city", action="/q/done", wait_url="/q/wait", wait_url_method="POST")
    dial = Dial(action="/dial/done", timeout=20, answer_on_bridge=True)
    dial.client("agent-7")
    response.append(dial)
    response.record(action="/r", max_length=120, transcribe=True, transcribe_callback="/t")
    response.pause(length=20)
    response.leave()
    response.hangup()
    return str(response)


def test_twiml_with_modern_gather_attributes_is_valid(twiml_rules: str) -> None:
    assert_valid_twiml(modern_document())


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (twiml("<Speak>Hi</Speak>"), "Speak"),
        (twiml('<Say colour="red">Hi</Say>'), "colour"),
        (twiml('<Say hints="pothole">Hi</Say>'), "hints"),  # allowed on <Gather> only
        (twiml('<Gather action="/x"><Hangup/></Gather>'), "Hangup"),
        ("<Say>Hi</Say>", "<Response>"),
        (twiml("<Say>Hi</Response>"), "not well-formed"),
        (twiml("<Say>" + "a" * 70_000 + "</Say>"), "65536"),
    ],
    ids=["verb", "attribute", "gather-attribute", "nesting", "root", "malformed", "size"],
)
def test_invalid_twiml_fails_naming_the_problem(twiml_rules: str, body: str, named: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(named)):
        assert_valid_twiml(body)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("voice", "robot"), ("language", "english please")],
)
def test_the_schema_still_checks_say_values(attribute: str, value: str) -> None:
    if not twiml_check.XSD_PATH.exists():
        pytest.skip(f"{twiml_check.XSD_PATH} is absent (shared test data): no schema check")
    with pytest.raises(AssertionError, match=attribute):
        assert_valid_twiml(twiml(f'<Say {attribute}="{value}">Hi</Say>'))
