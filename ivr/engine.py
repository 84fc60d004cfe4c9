"""The IVR engine: where a caller is, what they pressed or said, and what they hear next.

Pure: a validated :class:`~ivr.flows.Menu`, the call's :class:`CallState` and the caller's
input go in; a :class:`Reply` comes out — what to say, then one way to continue (listen,
record, queue, hang up) or a :class:`Need` for something only the database can answer (a
request's status, a new case, a place in a queue). The webhooks perform the need and call
back into the engine with the answer. Table-testable without Flask or a database.

The state travels in the URLs Twilio posts back to us (Twilio signs them, so a caller cannot
forge them): walking the menu costs no database round trip at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from contactcenter import tracking
from contactcenter.folding import fold
from ivr.flows import HANGUP, Kind, Menu, Node, Option, phrases_of

MAX_HOPS = 12
"""Nodes one reply may pass through (message → menu → ...): a guard against menu cycles."""
MAX_PATH = 24


class BadState(ValueError):
    """The state in a webhook URL cannot be read (not one we wrote)."""


@dataclass(frozen=True)
class CallState:
    call_id: int
    menu_id: int
    language: str
    node: str
    attempt: int = 0
    phase: str = ""
    """Where inside a node: a report's ``describe``/``location``/``opened``, ``recorded``..."""
    extra: str = ""
    """One small value for the phase: the chosen service type, a tracking number."""
    incidents: tuple[int, ...] = ()
    """The incidents announced to this caller, in the order of their keys."""
    path: tuple[str, ...] = ()

    def query(self) -> dict[str, str]:
        values = {
            "c": str(self.call_id),
            "m": str(self.menu_id),
            "l": self.language,
            "n": self.node,
        }
        optional = {
            "a": str(self.attempt) if self.attempt else "",
            "p": self.phase,
            "x": self.extra,
            "i": ".".join(str(incident) for incident in self.incidents),
            "h": ".".join(self.path),
        }
        values.update({key: value for key, value in optional.items() if value})
        return values

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> CallState:
        """:raises BadState: missing or malformed values."""
        try:
            state = cls(
                call_id=int(args["c"]),
                menu_id=int(args["m"]),
                language=args["l"],
                node=args["n"],
                attempt=int(args.get("a") or 0),
                phase=args.get("p", ""),
                extra=args.get("x", ""),
                incidents=tuple(int(part) for part in args.get("i", "").split(".") if part),
                path=tuple(part for part in args.get("h", "").split(".") if part),
            )
        except (KeyError, ValueError) as exc:
            raise BadState(f"unreadable call state: {exc}") from exc
        if state.call_id <= 0 or state.menu_id <= 0 or not 0 <= state.attempt <= 9:
            raise BadState("call state out of range")
        return state

    def at(self, node: str, *, phase: str = "", extra: str = "") -> CallState:
        path = self.path if self.path and self.path[-1] == node else (*self.path, node)
        return replace(self, node=node, attempt=0, phase=phase, extra=extra, path=path[-MAX_PATH:])


# What the caller hears.
@dataclass(frozen=True)
class Say:
    text: str
    voice: str
    language: str


@dataclass(frozen=True)
class Play:
    url: str


@dataclass(frozen=True)
class Pause:
    seconds: int


Prompt = Say | Play | Pause


# How the call goes on after the prompts.
@dataclass(frozen=True)
class Gather:
    state: CallState
    prompts: tuple[Prompt, ...]
    input: str
    """``dtmf``, ``speech`` or ``dtmf speech``."""
    language: str
    timeout: int
    num_digits: int | None = None
    finish_on_key: str = ""
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    state: CallState
    prompts: tuple[Prompt, ...]
    max_seconds: int
    transcribe: bool


@dataclass(frozen=True)
class Hangup:
    state: CallState | None = None


# What only the database can answer; the webhook performs it and resumes the engine.
@dataclass(frozen=True)
class LookupStatus:
    state: CallState
    tracking_number: str


@dataclass(frozen=True)
class OpenCase:
    state: CallState
    service_type: str
    location: str


@dataclass(frozen=True)
class SaveVoicemail:
    state: CallState
    transcribed: bool = False
    """Whether Twilio was asked for a transcription (one will follow)."""


@dataclass(frozen=True)
class JoinIncident:
    state: CallState
    incident_id: int


@dataclass(frozen=True)
class QueueForAgent:
    state: CallState
    queue: str


@dataclass(frozen=True)
class RequestCallback:
    state: CallState
    queue: str


Need = LookupStatus | OpenCase | SaveVoicemail | JoinIncident | QueueForAgent | RequestCallback


# Side effects that change nothing the caller hears.
@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class SaveDraft:
    key: str
    value: str


@dataclass(frozen=True)
class SelfServed:
    pass


Effect = SetLanguage | SaveDraft | SelfServed


@dataclass(frozen=True)
class Reply:
    prompts: tuple[Prompt, ...]
    then: Gather | Record | Hangup | Need
    effects: tuple[Effect, ...] = ()

    def after(self, prompts: tuple[Prompt, ...], effects: tuple[Effect, ...] = ()) -> Reply:
        """This reply, with what was already said (and done) in the same response first."""
        return Reply((*prompts, *self.prompts), self.then, (*effects, *self.effects))


@dataclass(frozen=True)
class Announcement:
    incident_id: int
    text: str


@dataclass(frozen=True)
class Facts:
    """What the engine needs to know about now: open hours and active incidents."""

    is_open: bool = True
    announcements: tuple[Announcement, ...] = ()


@dataclass(frozen=True)
class Heard:
    """The caller's input on one request."""

    digits: str = ""
    speech: str = ""
    recording_url: str = ""
    recording_seconds: int = 0

    @property
    def empty(self) -> bool:
        return not (self.digits or self.speech.strip() or self.recording_url)


@dataclass(frozen=True)
class StatusAnswer:
    tracking_number: str
    service: str
    status: str


@dataclass
class _Speaker:
    """Builds prompts in the caller's language and voice."""

    menu: Menu
    language: str
    prompts: list[Prompt] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.language not in self.menu.languages:
            self.language = self.menu.default_language

    def say(self, text: str) -> None:
        if text:
            voice = self.menu.languages[self.language]
            self.prompts.append(Say(text, voice.voice, voice.language))

    def system(self, name: str, **params: str) -> None:
        self.say(self.menu.prompt(name, self.language).format(**params))

    def node(self, node: Node) -> None:
        if self.language in node.play:
            self.prompts.append(Play(node.play[self.language]))
        else:
            self.say(node.say.get(self.language, ""))

    def done(self) -> tuple[Prompt, ...]:
        taken, self.prompts = tuple(self.prompts), []
        return taken


def spoken_digits(number: str) -> str:
    """A tracking number read one digit at a time: '1234-5678' → '1 2 3 4, 5 6 7 8'."""
    return ", ".join(" ".join(group) for group in number.split("-"))


def start(menu: Menu, state: CallState, facts: Facts, *, known_language: str | None) -> Reply:
    """The first reply of a call; a caller whose language we remember skips the choice."""
    first = menu.nodes[menu.start]
    if known_language in menu.languages and first.kind is Kind.LANGUAGE and first.next:
        state = replace(state, language=known_language)
        return enter(menu, state.at(menu.start), facts, first.next)
    return enter(menu, state, facts, menu.start)


def enter(menu: Menu, state: CallState, facts: Facts, name: str, hops: int = 0) -> Reply:
    """Arrive at node ``name``: what the caller hears there and how the call goes on."""
    speak = _Speaker(menu, state.language)
    if name == HANGUP or hops > MAX_HOPS:
        speak.system("goodbye")
        return Reply(speak.done(), Hangup(state))
    node = menu.nodes[name]
    if node.kind is Kind.AGENT and not facts.is_open and menu.after_hours:
        return enter(menu, state, facts, menu.after_hours, hops + 1)
    here = state.at(name)
    if node.kind is Kind.MESSAGE:
        speak.node(node)
        return enter(menu, here, facts, node.next or HANGUP, hops + 1).after(
            speak.done(), (SelfServed(),)
        )
    if node.kind is Kind.AGENT:
        speak.node(node)
        return Reply(speak.done(), QueueForAgent(here, node.queue or ""))
    if node.kind is Kind.CALLBACK:
        speak.node(node)
        return Reply(speak.done(), RequestCallback(here, node.queue or ""))
    return _ask(menu, here, facts, node, speak)


def _ask(menu: Menu, state: CallState, facts: Facts, node: Node, speak: _Speaker) -> Reply:
    """The prompt of a node that waits for the caller (re-asked after invalid input)."""
    incidents = _incidents_here(menu, state, facts)
    for index, announcement in enumerate(incidents):
        speak.say(announcement.text)
        speak.system("incident_offer", key=menu.incidents.keys[index] if menu.incidents else "")
    if incidents:
        state = replace(state, incidents=tuple(a.incident_id for a in incidents))
    if state.phase == "" or state.phase == "type":
        speak.node(node)
    voice = menu.languages[speak.language]
    gather = Gather(state, (), "dtmf speech", voice.language, menu.gather_timeout, num_digits=1)
    if node.kind in (Kind.LANGUAGE, Kind.MENU) or (node.kind is Kind.REPORT and not state.phase):
        hints = tuple(phrases_of(node, speak.language))
        if node.kind is Kind.LANGUAGE:
            hints = tuple(p for lang in menu.languages for p in phrases_of(node, lang))
        return Reply(speak.done(), replace(gather, hints=hints))
    if node.kind is Kind.STATUS:
        speak.system("status_ask")
        return Reply(speak.done(), replace(gather, input="dtmf", num_digits=9, finish_on_key="#"))
    if node.kind is Kind.VOICEMAIL:
        speak.system("voicemail")
        recorded = replace(state, phase="recorded")
        return Reply(
            speak.done(), Record(recorded, (), node.max_seconds, _transcribable(menu, speak, node))
        )
    return _ask_report(menu, state, node, speak, gather)


def _transcribable(menu: Menu, speak: _Speaker, node: Node) -> bool:
    """Twilio transcribes recordings in English of at most two minutes; others stay audio."""
    return menu.languages[speak.language].language.startswith("en") and node.max_seconds <= 120


def _ask_report(menu: Menu, state: CallState, node: Node, speak: _Speaker, gather: Gather) -> Reply:
    if state.phase == "describe":
        if node.describe == "record":
            speak.system("describe_record")
            transcribe = _transcribable(menu, speak, node)
            return Reply(speak.done(), Record(state, (), node.max_seconds, transcribe))
        speak.system("describe_speech")
        return Reply(speak.done(), replace(gather, input="speech", num_digits=None))
    if state.phase == "location":
        speak.system("location")
        return Reply(speak.done(), replace(gather, num_digits=None, finish_on_key="#"))
    # "opened": the tracking number was read; offer to repeat it.
    speak.system("repeat_number")
    return Reply(speak.done(), gather)


def _incidents_here(menu: Menu, state: CallState, facts: Facts) -> tuple[Announcement, ...]:
    if menu.incidents is None or state.incidents or state.node != menu.incidents.before:
        return ()
    return facts.announcements[: len(menu.incidents.keys)]


def respond(menu: Menu, state: CallState, facts: Facts, heard: Heard) -> Reply:
    """The caller answered the prompt of ``state.node`` (or stayed silent)."""
    node = menu.nodes.get(state.node)
    if node is None:  # the menu changed under a live call, or a hand-made URL
        return enter(menu, replace(state, attempt=0), facts, menu.start)
    if menu.incidents is not None and state.node == menu.incidents.before and heard.digits:
        # The key joins the incident this caller heard about, whatever became active since.
        keys = menu.incidents.keys
        if heard.digits in keys and keys.index(heard.digits) < len(state.incidents):
            return Reply((), JoinIncident(state, state.incidents[keys.index(heard.digits)]))
    if node.kind in (Kind.LANGUAGE, Kind.MENU) or (node.kind is Kind.REPORT and not state.phase):
        return _choose(menu, state, facts, node, heard)
    if node.kind is Kind.STATUS:
        return _status_number(menu, state, facts, node, heard)
    if node.kind is Kind.VOICEMAIL:
        if heard.recording_url and heard.recording_seconds > 0:
            transcribed = _transcribable(menu, _Speaker(menu, state.language), node)
            return Reply((), SaveVoicemail(state, transcribed))
        return _invalid(menu, state, facts, node, reason="nothing_recorded")
    if node.kind is Kind.REPORT:
        return _report(menu, state, facts, node, heard)
    return enter(menu, state, facts, state.node)


def _choose(menu: Menu, state: CallState, facts: Facts, node: Node, heard: Heard) -> Reply:
    option = _match(menu, node, state.language, heard)
    if option is None:
        return _invalid(menu, state, facts, node)
    if node.kind is Kind.LANGUAGE and option.language:
        chosen = replace(state, language=option.language)
        return enter(menu, chosen, facts, option.goto or node.next or HANGUP).after(
            (), (SetLanguage(option.language),)
        )
    if node.kind is Kind.REPORT:
        chosen = replace(state, phase="describe", extra=option.service_type or "", attempt=0)
        return _ask(menu, chosen, facts, node, _Speaker(menu, state.language))
    return enter(menu, state, facts, option.goto or HANGUP)


_WORD = re.compile(r"[a-z0-9]+")


def _match(menu: Menu, node: Node, language: str, heard: Heard) -> Option | None:
    if heard.digits:
        return next((o for o in node.options if o.key == heard.digits[:1]), None)
    said = " ".join(_WORD.findall(fold(heard.speech)))
    if not said:
        return None
    padded = f" {said} "
    languages = list(menu.languages) if node.kind is Kind.LANGUAGE else [language]
    for option in node.options:
        for lang in languages:
            for phrase in option.phrases.get(lang, []):
                words = " ".join(_WORD.findall(fold(phrase)))
                if words and f" {words} " in padded:
                    return option
    # "one", "press two": speech recognizers usually write digits.
    keyed = [o for o in node.options if f" {o.key} " in padded]
    return keyed[0] if len(keyed) == 1 else None


def _invalid(
    menu: Menu, state: CallState, facts: Facts, node: Node, *, reason: str = "invalid"
) -> Reply:
    """Re-prompt; after ``max_attempts`` take the caller somewhere useful, never hang up."""
    speak = _Speaker(menu, state.language)
    speak.system(reason)
    attempt = state.attempt + 1
    if attempt < menu.max_attempts:
        return _ask(menu, replace(state, attempt=attempt), facts, node, speak)
    return enter(menu, state, facts, _way_out(menu, state, facts)).after(speak.done())


def _way_out(menu: Menu, state: CallState, facts: Facts) -> str:
    target = menu.exit_node() or HANGUP
    if target != HANGUP and menu.nodes[target].kind is Kind.AGENT and not facts.is_open:
        target = menu.after_hours or target
    if target == state.node:
        target = menu.first_node(Kind.VOICEMAIL) or HANGUP
    if target == state.node:
        target = HANGUP
    return target


def _status_number(menu: Menu, state: CallState, facts: Facts, node: Node, heard: Heard) -> Reply:
    digits = re.sub(r"\D", "", heard.digits or heard.speech)
    if not digits:
        return _invalid(menu, state, facts, node)
    if not tracking.is_valid(digits):
        speak = _Speaker(menu, state.language)
        speak.system("status_invalid", digits=" ".join(digits))
        attempt = state.attempt + 1
        if attempt < menu.max_attempts:
            return _ask(menu, replace(state, attempt=attempt), facts, node, speak)
        return enter(menu, state, facts, _way_out(menu, state, facts)).after(speak.done())
    return Reply((), LookupStatus(state, tracking.format_number(digits)))


def status_answered(
    menu: Menu, state: CallState, facts: Facts, number: str, answer: StatusAnswer | None
) -> Reply:
    speak = _Speaker(menu, state.language)
    if answer is None:
        speak.system("status_not_found", digits=spoken_digits(number))
        return _invalid_after(menu, state, facts, speak)
    speak.system(
        "status_answer",
        digits=spoken_digits(answer.tracking_number),
        service=answer.service,
        status=answer.status,
    )
    node = menu.nodes[state.node]
    return enter(menu, state, facts, node.next or HANGUP).after(speak.done(), (SelfServed(),))


def _invalid_after(menu: Menu, state: CallState, facts: Facts, speak: _Speaker) -> Reply:
    node = menu.nodes[state.node]
    attempt = state.attempt + 1
    if attempt < menu.max_attempts:
        return _ask(menu, replace(state, attempt=attempt), facts, node, speak)
    return enter(menu, state, facts, _way_out(menu, state, facts)).after(speak.done())


def _report(menu: Menu, state: CallState, facts: Facts, node: Node, heard: Heard) -> Reply:
    if state.phase == "describe":
        description = heard.speech.strip() or heard.recording_url
        if not description:
            return _invalid(menu, state, facts, node)
        saved = SaveDraft("recording_url" if heard.recording_url else "description", description)
        moved = replace(state, phase="location" if node.ask_location else "", attempt=0)
        if node.ask_location:
            return _ask(menu, moved, facts, node, _Speaker(menu, state.language)).after(
                (), (saved,)
            )
        return Reply((), OpenCase(state, state.extra, ""), (saved,))
    if state.phase == "location":
        location = heard.speech.strip() or heard.digits
        if not location:
            return _invalid(menu, state, facts, node)
        return Reply((), OpenCase(state, state.extra, location))
    # "opened": 1 repeats the tracking number, anything else (or silence) ends the call.
    if heard.digits[:1] == "1" and state.extra:
        return case_opened(menu, state, state.extra)
    speak = _Speaker(menu, state.language)
    speak.system("goodbye")
    return Reply(speak.done(), Hangup(state))


def case_opened(menu: Menu, state: CallState, number: str) -> Reply:
    speak = _Speaker(menu, state.language)
    speak.system("case_opened", digits=spoken_digits(number))
    opened = replace(state, phase="opened", extra=number, attempt=0)
    return _ask(menu, opened, Facts(), menu.nodes[state.node], speak)


def voicemail_saved(menu: Menu, state: CallState, number: str) -> Reply:
    speak = _Speaker(menu, state.language)
    speak.system("voicemail_saved", digits=spoken_digits(number))
    speak.system("goodbye")
    return Reply(speak.done(), Hangup(state))


def incident_joined(menu: Menu, state: CallState, number: str) -> Reply:
    speak = _Speaker(menu, state.language)
    speak.system("incident_joined", digits=spoken_digits(number))
    speak.system("goodbye")
    return Reply(speak.done(), Hangup(state))


def callback_confirmed(menu: Menu, state: CallState, last4: str) -> Reply:
    speak = _Speaker(menu, state.language)
    speak.system("callback_confirmed", last4=" ".join(last4))
    return Reply(speak.done(), Hangup(state))


def callback_impossible(menu: Menu, state: CallState, facts: Facts) -> Reply:
    """A hidden number cannot be called back: offer voicemail instead."""
    speak = _Speaker(menu, state.language)
    speak.system("callback_no_number")
    voicemail = menu.first_node(Kind.VOICEMAIL) or HANGUP
    return enter(menu, state, facts, voicemail).after(speak.done())


def prompt(menu: Menu, language: str, name: str, **params: str) -> Say:
    """One system prompt as a :class:`Say` (queue announcements, callbacks)."""
    speak = _Speaker(menu, language)
    speak.system(name, **params)
    said = speak.done()[0]
    assert isinstance(said, Say)
    return said
