"""IVR menus as data: the schema of a jurisdiction's menu file, and its validation.

A city edits a YAML (or JSON) file, checks it with ``contactcenter ivr check`` and loads it
with ``contactcenter ivr load`` (or ``PUT /api/v1/ivr/menu``); nothing here is code. Every
problem is reported before the menu goes live, each naming the node and what is wrong, because
a broken menu is a city hall that stops answering its phone.

Pure: no Flask, no database. What only the database knows (queue, calendar and service-type
codes) is checked by :func:`problems_against`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from string import Formatter
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ivr.prompts import DEFAULT_PROMPTS

NODE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
DTMF_KEY = re.compile(r"^[0-9*]$")
"""One key per option; ``#`` is left out because phones send it to end what was keyed."""
MAX_SOURCE_BYTES = 256 * 1024
MAX_VALUES = 50_000
"""Values a menu file may hold once read: YAML aliases can repeat a block exponentially."""
HANGUP = "hangup"
"""A ``goto``/``next`` that ends the call politely (goodbye, then hang up)."""


class Kind(StrEnum):
    LANGUAGE = "language"
    """Choose a language; each option names one, then ``next``."""
    MENU = "menu"
    """Options by key or spoken phrase, each with a ``goto``."""
    MESSAGE = "message"
    """A recorded answer (``say`` or ``play``), then ``next``."""
    REPORT = "report"
    """Report a problem: service type (options), description, location; reads the number back."""
    STATUS = "status"
    """Key a tracking number, hear the request's status, then ``next``."""
    VOICEMAIL = "voicemail"
    """Leave a message that becomes a case; the transcription follows when Twilio sends it."""
    AGENT = "agent"
    """Wait in ``queue`` for an agent; after hours the menu's ``after_hours`` node instead."""
    CALLBACK = "callback"
    """Ask to be called back by ``queue`` without waiting on the line."""


Text = dict[str, str]
"""What is said, by language code."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Voice(_Strict):
    voice: str = Field(min_length=1, max_length=64)
    """Twilio's voice name, for example ``Polly.Joanna-Neural``."""
    language: str = Field(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")
    """BCP-47 tag for ``<Say language>`` and speech recognition (``<Gather language>``)."""


class Option(_Strict):
    key: str
    phrases: dict[str, list[str]] = Field(default_factory=dict)
    """Words a caller may say instead of pressing ``key``, by language."""
    goto: str | None = None
    language: str | None = None
    """On a language node: the language this key chooses."""
    service_type: str | None = None
    """On a report node: the service type this key chooses."""

    @field_validator("key")
    @classmethod
    def _dtmf(cls, key: str) -> str:
        if not DTMF_KEY.match(key):
            raise ValueError(f"key must be one phone key (0-9 or *), not {key!r}")
        return key


class Node(_Strict):
    kind: Kind
    say: Text = Field(default_factory=dict)
    play: dict[str, str] = Field(default_factory=dict)
    """Recorded audio (an https URL) by language, played instead of ``say``."""
    options: list[Option] = Field(default_factory=list)
    next: str | None = None
    queue: str | None = None
    describe: str = Field(default="speech", pattern=r"^(speech|record)$")
    """Report nodes: the caller speaks the description (transcribed at once) or records it."""
    ask_location: bool = True
    max_seconds: int = Field(default=120, ge=5, le=600)
    """Longest recording (voicemail, recorded description)."""


class Incidents(_Strict):
    """Where active incidents are announced, and the keys that attach a caller to one."""

    before: str
    keys: list[str] = Field(default_factory=lambda: ["9", "8", "7"], min_length=1, max_length=3)

    @field_validator("keys")
    @classmethod
    def _dtmf_keys(cls, keys: list[str]) -> list[str]:
        """A caller keys one digit: a longer key, or the same key twice, could never join."""
        for key in keys:
            if not DTMF_KEY.match(key):
                raise ValueError(f"each key must be one phone key (0-9 or *), not {key!r}")
        if len(set(keys)) != len(keys):
            raise ValueError("each key must be different")
        return keys


class Menu(_Strict):
    languages: dict[str, Voice] = Field(min_length=1)
    """The languages callers can choose, in the order offered; the first is the default."""
    start: str
    nodes: dict[str, Node] = Field(min_length=1)
    hours: str | None = None
    """Calendar code (routing calendars): outside its hours, agents are not offered."""
    after_hours: str | None = None
    """The node a caller reaches instead of an agent when the calendar is closed."""
    way_out: str | None = None
    """Where repeated invalid input leads (default: the first agent node, else voicemail)."""
    max_attempts: int = Field(default=3, ge=1, le=5)
    gather_timeout: int = Field(default=6, ge=2, le=20)
    max_wait_seconds: int = Field(default=900, ge=0, le=7200)
    """Longest wait in an agent queue before voicemail is offered instead (0: no limit)."""
    incidents: Incidents | None = None
    prompts: dict[str, Text] = Field(default_factory=dict)
    """Overrides of the built-in system prompts (see :mod:`ivr.prompts`)."""

    def prompt(self, name: str, language: str) -> str:
        """A system prompt in ``language``: the menu's override, else the built-in one."""
        for table in (self.prompts.get(name, {}), DEFAULT_PROMPTS[name]):
            if language in table:
                return table[language]
        return DEFAULT_PROMPTS[name]["en"]

    @property
    def default_language(self) -> str:
        return next(iter(self.languages))

    def first_node(self, kind: Kind) -> str | None:
        return next((name for name, node in self.nodes.items() if node.kind is kind), None)

    def exit_node(self) -> str | None:
        """Where a caller who keeps pressing the wrong keys goes: a person, else voicemail."""
        return self.way_out or self.first_node(Kind.AGENT) or self.first_node(Kind.VOICEMAIL)


class MenuError(ValueError):
    """A menu that must not go live; ``problems`` are whole sentences naming the node."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_source(source: str) -> dict[str, Any]:
    """YAML or JSON text to a mapping. :raises MenuError: not a readable menu file."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise MenuError([f"The menu file is larger than {MAX_SOURCE_BYTES // 1024} kB."])
    try:
        data = json.loads(source) if source.lstrip().startswith("{") else yaml.safe_load(source)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise MenuError([f"The menu file cannot be read: {exc}"]) from exc
    except RecursionError:
        raise MenuError(["The menu file is nested too deeply to read."]) from None
    if not isinstance(data, dict):
        raise MenuError(["The menu file must be a mapping with languages, start and nodes."])
    if _holds_more_than(data, MAX_VALUES):
        raise MenuError([f"The menu file holds more than {MAX_VALUES} values once read."])
    return data


def _holds_more_than(data: object, budget: int) -> bool:
    """Counts values only up to ``budget``, so an exponential alias bomb is refused at once."""
    stack: list[object] = [data]
    while stack:
        budget -= 1
        if budget < 0:
            return True
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def load_menu(data: Mapping[str, Any]) -> Menu:
    """Validate a menu; :raises MenuError: with every problem found, not just the first."""
    try:
        menu = Menu.model_validate(data)
    except ValidationError as exc:
        raise MenuError([_describe(error) for error in exc.errors()]) from exc
    problems = structural_problems(menu)
    if problems:
        raise MenuError(problems)
    return menu


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    message = str(error["msg"])
    if len(loc) >= 2 and loc[0] == "nodes":
        rest = " ".join(loc[2:])
        return f"node {loc[1]!r}: {rest + ': ' if rest else ''}{message}"
    return f"{'.'.join(loc) or 'menu'}: {message}"


def structural_problems(menu: Menu) -> list[str]:
    """Everything wrong with a menu that the file alone can show."""
    problems: list[str] = []
    names = set(menu.nodes)
    languages = list(menu.languages)

    def target(where: str, name: str | None, *, allow_hangup: bool = True) -> None:
        if name is None or (allow_hangup and name == HANGUP) or name in names:
            return
        hint = difflib.get_close_matches(name, names, n=1)
        problems.append(
            f"{where} goes to unknown node {name!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )

    def texts(where: str, table: Mapping[str, object], what: str, complete: bool = True) -> None:
        for language in table:
            if language not in menu.languages:
                problems.append(f"{where}: {what} in {language!r}, which the menu does not offer")
        missing = [lang for lang in languages if lang not in table]
        if complete and table and missing:
            problems.append(f"{where}: {what} missing in {', '.join(missing)}")

    for name in names:
        if not NODE_ID.match(name):
            problems.append(
                f"node {name!r}: a node name is lowercase letters, digits, '-' or '_' "
                "(at most 32, starting with a letter)"
            )
    if HANGUP in names:
        problems.append(f"node {HANGUP!r}: the name is reserved (going to {HANGUP!r} hangs up)")
    target("start", menu.start, allow_hangup=False)
    target("after_hours", menu.after_hours, allow_hangup=False)
    target("way_out", menu.way_out, allow_hangup=False)
    if menu.incidents is not None:
        target("incidents.before", menu.incidents.before, allow_hangup=False)
        before = menu.nodes.get(menu.incidents.before)
        taken = {o.key for o in before.options} if before is not None else set()
        for key in sorted(taken & set(menu.incidents.keys)):
            problems.append(
                f"incidents: key {key!r} joins an incident, but node "
                f"{menu.incidents.before!r} already uses it for an option"
            )
    if menu.hours and not menu.after_hours and menu.first_node(Kind.AGENT):
        problems.append("hours are set but after_hours is not: where do callers go when closed?")
    for prompt, table in menu.prompts.items():
        if prompt not in DEFAULT_PROMPTS:
            hint = difflib.get_close_matches(prompt, DEFAULT_PROMPTS, n=1)
            problems.append(
                f"prompts: unknown prompt {prompt!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
        texts(f"prompts.{prompt}", table, "text")
        problems.extend(_placeholder_problems(prompt, table))
    for name, node in menu.nodes.items():
        problems.extend(_node_problems(menu, name, node, texts, target))
    return problems


def _placeholders(text: str) -> set[str] | None:
    try:
        return {field for _, field, _, _ in Formatter().parse(text) if field is not None}
    except ValueError:
        return None


def _placeholder_problems(prompt: str, table: Mapping[str, str]) -> list[str]:
    """An override the engine cannot fill in would fail mid-call, not here: check it now."""
    if prompt not in DEFAULT_PROMPTS:
        return []
    allowed: set[str] = set()
    for text in DEFAULT_PROMPTS[prompt].values():
        allowed |= _placeholders(text) or set()
    problems: list[str] = []
    for language, text in table.items():
        used = _placeholders(text)
        if used is None:
            problems.append(
                f"prompts.{prompt} ({language}): unmatched brace (write '{{{{' or '}}}}')"
            )
        elif used - allowed:
            known = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
            problems.append(
                f"prompts.{prompt} ({language}): unknown placeholder "
                + ", ".join(f"{{{name}}}" for name in sorted(used - allowed))
                + f" (this prompt has: {known})"
            )
    return problems


def _a(kind: Kind) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _node_problems(menu: Menu, name: str, node: Node, texts: Any, target: Any) -> list[str]:
    problems: list[str] = []
    where = f"node {name!r}"
    if not node.say and not node.play:
        problems.append(f"{where}: says nothing (give it 'say' text in each language)")
    texts(where, node.say, "'say' text")
    texts(where, node.play, "'play' audio")
    for language, url in node.play.items():
        if not url.startswith("https://"):
            problems.append(f"{where}: 'play' audio for {language!r} must be an https URL")
    keys = Counter(option.key for option in node.options)
    for key in sorted(key for key, count in keys.items() if count > 1):
        problems.append(f"{where}: key {key!r} is used by more than one option")
    needs_options = node.kind in (Kind.LANGUAGE, Kind.MENU, Kind.REPORT)
    if needs_options and not node.options:
        problems.append(f"{where}: {_a(node.kind)} node needs options")
    if not needs_options and node.options:
        problems.append(f"{where}: {_a(node.kind)} node takes no options")
    for index, option in enumerate(node.options, start=1):
        at = f"{where} option {index} (key {option.key})"
        texts(at, option.phrases, "phrases", complete=False)  # keys work in every language
        problems.extend(_option_problems(menu, node, at, option))
        target(at, option.goto)
    if node.kind in (Kind.AGENT, Kind.CALLBACK) and not node.queue:
        problems.append(f"{where}: {_a(node.kind)} node needs a queue")
    if node.kind not in (Kind.AGENT, Kind.CALLBACK) and node.queue:
        problems.append(f"{where}: only agent and callback nodes take a queue")
    if node.kind in (Kind.LANGUAGE, Kind.MESSAGE, Kind.STATUS) and node.next is None:
        problems.append(f"{where}: {_a(node.kind)} node needs 'next' (a node, or 'hangup')")
    target(f"{where} next", node.next)
    return problems


def _option_problems(menu: Menu, node: Node, at: str, option: Option) -> list[str]:
    problems: list[str] = []
    if node.kind is Kind.LANGUAGE:
        if option.language not in menu.languages:
            problems.append(f"{at}: chooses language {option.language!r}, not one of the menu's")
    elif option.language is not None:
        problems.append(f"{at}: only language nodes choose a language")
    if node.kind is Kind.REPORT:
        if not option.service_type:
            problems.append(f"{at}: needs a service_type")
    elif option.service_type is not None:
        problems.append(f"{at}: only report nodes choose a service type")
    if node.kind is Kind.MENU and option.goto is None:
        problems.append(f"{at}: needs a goto")
    return problems


def problems_against(
    menu: Menu,
    *,
    queues: Iterable[str],
    calendars: Iterable[str],
    service_types: Iterable[str],
    languages: Iterable[str],
) -> list[str]:
    """What a menu names that the jurisdiction does not have."""
    problems: list[str] = []
    known = {
        "queue": set(queues),
        "calendar": set(calendars),
        "service type": set(service_types),
    }

    def check(where: str, what: str, code: str | None) -> None:
        if code is None or code in known[what]:
            return
        hint = difflib.get_close_matches(code, known[what], n=1)
        problems.append(
            f"{where}: no {what} {code!r} in this jurisdiction"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )

    check("hours", "calendar", menu.hours)
    for name, node in menu.nodes.items():
        check(f"node {name!r}", "queue", node.queue)
        for option in node.options:
            check(f"node {name!r} option key {option.key}", "service type", option.service_type)
    served = set(languages)
    for language in menu.languages:
        if language not in served:
            problems.append(f"languages: {language!r} is not one of the jurisdiction's languages")
    return problems


def phrases_of(node: Node, language: str) -> list[str]:
    return [phrase for option in node.options for phrase in option.phrases.get(language, [])]
