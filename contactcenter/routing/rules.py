"""The routing rule engine: where each new 3-1-1 case goes, decided by the city's own rules.

Why: every city routes differently (gas leaks to Public Works' emergency line, Spanish calls
after hours to a contracted queue, one ward's potholes to a district yard) and those choices
change faster than code ships. So city IT keeps an ordered rule set per jurisdiction, in the
spirit of a Twilio TaskRouter workflow: the first enabled rule whose conditions all hold
decides, and the ``default`` fills in whatever that rule leaves unset. A rule without a name
is called "rule N" (its 1-based position) in decisions and problems.

The module is pure (no web framework, database or Redis) so the same code validates a rule
set when it is saved, answers the dry-run endpoint and routes live cases. Validation collects
every problem at once, naming the rule and the field, so an editor can show them all next to
the inputs. Compilation turns each condition into a small predicate over precomputed values
(frozensets, normalized keyword phrases, parsed clock times, a type-checked rule-engine
expression) and orders them cheap first, so :meth:`CompiledRuleSet.decide` stays well under a
millisecond with hundreds of rules.

Rule set format (JSON, as the API stores it)::

    {"rules": [
       {"name": "Gas leaks are urgent",          # optional; must be unique
        "enabled": true,                         # optional, default true
        "when": {"keywords": ["gas leak"], "service_groups": ["Streets"]},
        "then": {"department": "PW", "queue": "emergency", "priority": "urgent",
                 "skills": ["gas"], "sla": "urgent-4h", "language": "case",
                 "targets": [{"queue": "emergency", "timeout": 120}, {"queue": "supervisors"}]}}
     ],
     "default": {"queue": "general"}}           # optional, same actions as "then"

``when`` holds conditions, all of which must hold (AND); a list matches if any of its values
does (OR); an empty or missing ``when`` matches every case:

- ``service_types``, ``service_groups``, ``districts``: codes from the jurisdiction's data. A
  case carries the set of districts containing its location, so a case without a location
  never matches ``districts``.
- ``channels`` (values of :class:`contactcenter.messages.Channel`), ``languages`` (codes),
  ``priorities`` (low, normal, high, urgent), ``resident_flags`` (any of the resident's flags).
- ``keywords``: phrases found in the description as whole words, ignoring case, accents and
  runs of whitespace ("gas" does not match "gasket"; "gas leak" matches "GAS  leak!").
- ``business_hours``: ``{"calendar": code, "open": bool}``, whether that calendar is open.
- ``time_of_day``: ``{"from": "HH:MM", "to": "HH:MM"}`` in the jurisdiction's local time, from
  inclusive, to exclusive; ``from`` after ``to`` wraps past midnight.
- ``days``: ``["mon", ..., "sun"]``, the local day of the case. Each condition is checked on its
  own: 02:00 on a Sunday is a Sunday, whatever ``time_of_day`` says.
- ``expression``: a `rule-engine <https://zerosteiner.github.io/rule-engine/>`_ expression over
  ``service_type``, ``service_group`` (strings or null), ``channel``, ``language``,
  ``priority``, ``description`` (as written), ``weekday`` (strings), ``resident_flags``,
  ``districts`` (arrays of strings) and ``hour`` (local hour, 0-23). It is type-checked when
  the rule set is saved and evaluated last, only when every other condition of the rule
  holds: an evaluated expression costs about ten microseconds, a hundred times a set lookup,
  so a rule should say what it can with plain conditions and keep the expression for the rest.

Actions (``then`` and ``default``): ``department``, ``queue``, ``sla`` (codes), ``priority``,
``skills`` (names), ``language`` (a code, or ``"case"`` for the case's own language) and
``targets``, the queues to try in order, each with a ``timeout`` in seconds (1 to 86,400)
except the last, which may wait forever. ``queue`` alone means one target without timeout;
``targets`` alone means ``queue`` is the first target's queue; given both, they must agree.
Queue and targets fall back to the default together, and ``"skills": []`` clears the default's.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import rule_engine

from contactcenter.folding import fold
from contactcenter.messages import Channel

__all__ = [
    "ACTIONS",
    "CASE_LANGUAGE",
    "CHANNELS",
    "CONDITIONS",
    "EMPTY_RULE_SET",
    "MAX_RULES",
    "MAX_TIMEOUT_SECONDS",
    "PRIORITIES",
    "WEEKDAYS",
    "CaseFacts",
    "CompiledRuleSet",
    "Decision",
    "OpenCheck",
    "RuleCatalog",
    "RuleProblem",
    "RuleSetError",
    "compile_rule_set",
]

log = logging.getLogger(__name__)

MAX_RULES: Final = 1000
MAX_TIMEOUT_SECONDS: Final = 86_400
MAX_NAME_LENGTH: Final = 200
MAX_KEYWORD_LENGTH: Final = 200
MAX_EXPRESSION_LENGTH: Final = 2000
SUMMARY_PROBLEMS: Final = 3
CASE_LANGUAGE: Final = "case"
PRIORITIES: Final = ("low", "normal", "high", "urgent")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS: Final = tuple(channel.value for channel in Channel)
CONDITIONS: Final = (
    "service_types",
    "service_groups",
    "channels",
    "languages",
    "priorities",
    "keywords",
    "resident_flags",
    "districts",
    "business_hours",
    "time_of_day",
    "days",
    "expression",
)
ACTIONS: Final = ("department", "queue", "priority", "skills", "language", "sla", "targets")
RULE_KEYS: Final = ("name", "enabled", "when", "then")
TOP_LEVEL_KEYS: Final = ("rules", "default")

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_WORD = re.compile(r"\w+")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_EXPRESSION_TYPES: Final = {
    "service_type": rule_engine.DataType.NULLABLE(rule_engine.DataType.STRING),
    "service_group": rule_engine.DataType.NULLABLE(rule_engine.DataType.STRING),
    "channel": rule_engine.DataType.STRING,
    "language": rule_engine.DataType.STRING,
    "priority": rule_engine.DataType.STRING,
    "description": rule_engine.DataType.STRING,
    "resident_flags": rule_engine.DataType.ARRAY(rule_engine.DataType.STRING),
    "districts": rule_engine.DataType.ARRAY(rule_engine.DataType.STRING),
    "hour": rule_engine.DataType.FLOAT,
    "weekday": rule_engine.DataType.STRING,
}


class OpenCheck(Protocol):
    """A business-hours calendar: whether the city counts ``at`` as open."""

    def is_open(self, at: datetime) -> bool: ...


@dataclass(frozen=True)
class RuleCatalog:
    """The names a rule may refer to, loaded by the caller from the jurisdiction's data."""

    departments: frozenset[str]
    queues: frozenset[str]
    service_types: frozenset[str]
    service_groups: frozenset[str]
    districts: frozenset[str]
    sla_policies: frozenset[str]
    calendars: Mapping[str, OpenCheck]
    languages: frozenset[str] | None = None
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong with a rule set: which rule, which field (a JSON path), and what."""

    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.rule}: {self.field}" if self.field else self.rule
        return f"{where}: {self.message}"


class RuleSetError(ValueError):
    """A rule set that cannot be saved; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = list(problems)
        super().__init__(_summary(self.problems))


def _summary(problems: Sequence[RuleProblem]) -> str:
    count = len(problems)
    shown = "; ".join(str(problem) for problem in problems[:SUMMARY_PROBLEMS])
    more = f"; and {count - SUMMARY_PROBLEMS} more" if count > SUMMARY_PROBLEMS else ""
    return f"{count} problem{'s' if count != 1 else ''} in the rule set: {shown}{more}"


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the rules may look at in a new case."""

    service_type: str | None
    service_group: str | None
    channel: str
    language: str
    priority: str
    description: str
    resident_flags: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a case goes; ``rule`` is None when no rule matched and the default applied."""

    rule: str | None
    rule_index: int | None
    department: str | None
    queue: str | None
    priority: str | None
    skills: tuple[str, ...]
    language: str | None
    sla: str | None
    targets: tuple[tuple[str, int | None], ...]


class _Case:
    """The facts of one case plus values derived from them, each computed at most once."""

    __slots__ = ("_local", "_symbols", "_text", "_words", "_zone", "at", "facts")

    def __init__(self, facts: CaseFacts, zone: tzinfo) -> None:
        at = facts.at if facts.at is not None else datetime.now(UTC)
        if at.utcoffset() is None:
            raise ValueError("CaseFacts.at must be timezone-aware")
        self.facts = facts
        self.at = at
        self._zone = zone
        self._text: str | None = None
        self._words: frozenset[str] | None = None
        self._local: datetime | None = None
        self._symbols: dict[str, Any] | None = None

    def text(self) -> str:
        """The description folded, with each run of whitespace made one space."""
        if self._text is None:
            self._text = _normalize_text(self.facts.description)
        return self._text

    def words(self) -> frozenset[str]:
        """The words of :meth:`text`: runs of word characters, as ``\\w+`` finds them."""
        if self._words is None:
            self._words = frozenset(_WORD.findall(self.text()))
        return self._words

    def local(self) -> datetime:
        if self._local is None:
            self._local = self.at.astimezone(self._zone)
        return self._local

    def minute_of_day(self) -> int:
        local = self.local()
        return local.hour * 60 + local.minute

    def weekday(self) -> str:
        return WEEKDAYS[self.local().weekday()]

    def symbols(self) -> dict[str, Any]:
        if self._symbols is None:
            facts = self.facts
            self._symbols = {
                "service_type": facts.service_type,
                "service_group": facts.service_group,
                "channel": facts.channel,
                "language": facts.language,
                "priority": facts.priority,
                "description": facts.description,
                "resident_flags": tuple(sorted(facts.resident_flags)),
                "districts": tuple(sorted(facts.districts)),
                "hour": self.local().hour,
                "weekday": self.weekday(),
            }
        return self._symbols


Predicate = Callable[[_Case], bool]


@dataclass(frozen=True, slots=True)
class _Condition:
    name: str
    cost: int
    test: Predicate
    source: Any


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A precomputed decision; only a ``"case"`` language is filled in per case."""

    decision: Decision
    language_from_case: bool

    def for_case(self, facts: CaseFacts) -> Decision:
        if self.language_from_case:
            return replace(self.decision, language=facts.language)
        return self.decision


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    index: int
    tests: tuple[Predicate, ...]
    conditions: tuple[_Condition, ...]
    outcome: _Outcome


class CompiledRuleSet:
    """A validated rule set, ready to route cases. Build it with :func:`compile_rule_set`.

    Immutable once built, so one instance may be cached and shared between threads.
    """

    __slots__ = ("_default", "_rules", "_source", "_zone")

    def __init__(
        self, rules: Sequence[_Rule], default: _Outcome, zone: tzinfo, source: dict[str, Any]
    ) -> None:
        self._rules = tuple(rules)
        self._default = default
        self._zone = zone
        self._source = source

    def decide(self, facts: CaseFacts) -> Decision:
        """The first enabled rule that matches decides; the default fills what it leaves unset."""
        case = _Case(facts, self._zone)
        for rule in self._rules:
            for test in rule.tests:
                if not test(case):
                    break
            else:
                return rule.outcome.for_case(facts)
        return self._default.for_case(facts)

    def explain(self, facts: CaseFacts) -> list[dict[str, Any]]:
        """For a dry run: each enabled rule up to the first match, with its failed conditions."""
        case = _Case(facts, self._zone)
        steps: list[dict[str, Any]] = []
        for rule in self._rules:
            failed = [condition.name for condition in rule.conditions if not condition.test(case)]
            steps.append({"rule": rule.label, "matched": not failed, "failed": failed})
            if not failed:
                break
        return steps

    @property
    def source(self) -> dict[str, Any]:
        """The normalized rule set, as the API stores and returns it (a fresh copy)."""
        copied: dict[str, Any] = _copy_json(self._source)
        return copied

    def __repr__(self) -> str:
        return f"<CompiledRuleSet rules={len(self._source['rules'])}>"


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


# Validation helpers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where problems are reported: the rule's label and the path to the current field."""

    rule: str
    prefix: str
    problems: list[RuleProblem]

    def add(self, field: str, message: str) -> None:
        self.problems.append(RuleProblem(self.rule, self.prefix + field, message))

    def nested(self, prefix: str) -> _Scope:
        return _Scope(self.rule, self.prefix + prefix, self.problems)


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """The values a field accepts: a known set, or a pattern when there is no list."""

    noun: str
    known: frozenset[str] | None = None
    pattern: re.Pattern[str] | None = None

    def problem(self, value: str) -> str | None:
        if self.known is not None and value not in self.known:
            return f'unknown {self.noun} "{value}"{_suggestion(value, self.known)}'
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f'"{value}" is not a {self.noun} (2 or 3 lower-case letters)'
        return None


def _suggestion(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _check_keys(scope: _Scope, raw: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    for key in raw:
        if key not in allowed:
            scope.add(str(key), f'unknown {what} "{key}"{_suggestion(str(key), allowed)}')


def _strings(scope: _Scope, field: str, raw: Any, *, allow_empty: bool = False) -> list[str] | None:
    """A list of non-empty strings, or None after reporting what is wrong."""
    if not _is_list(raw):
        scope.add(field, f"must be a list of strings, not {_type_name(raw)}")
        return None
    if not raw and not allow_empty:
        scope.add(field, "must not be an empty list")
        return None
    if not all(isinstance(item, str) and item.strip() for item in raw):
        scope.add(field, "every item must be a non-empty string")
        return None
    return list(raw)


def _codes(scope: _Scope, field: str, raw: Any, vocabulary: _Vocabulary) -> list[str] | None:
    values = _strings(scope, field, raw)
    if values is None:
        return None
    problems = [message for value in values if (message := vocabulary.problem(value))]
    for message in problems:
        scope.add(field, message)
    return None if problems else values


def _text_problem(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return f"must be a string, not {_type_name(raw)}"
    return None if raw.strip() else "must not be empty"


def _code(scope: _Scope, field: str, raw: Any, vocabulary: _Vocabulary) -> str | None:
    """A string the vocabulary knows, or None after reporting what is wrong."""
    message = _text_problem(raw)
    if message is None:
        code: str = raw
        message = vocabulary.problem(code)
        if message is None:
            return code
    scope.add(field, message)
    return None


@dataclass(frozen=True, slots=True)
class _Environment:
    """What compiling needs besides the raw rules: the catalog's vocabularies and the clock."""

    catalog: RuleCatalog
    zone: tzinfo
    expressions: rule_engine.Context

    def vocabulary(self, field: str) -> _Vocabulary:
        catalog = self.catalog
        known: dict[str, tuple[str, frozenset[str]]] = {
            "service_types": ("service type", catalog.service_types),
            "service_groups": ("service group", catalog.service_groups),
            "districts": ("district", catalog.districts),
            "channels": ("channel", frozenset(CHANNELS)),
            "priorities": ("priority", frozenset(PRIORITIES)),
            "priority": ("priority", frozenset(PRIORITIES)),
            "days": ("day", frozenset(WEEKDAYS)),
            "department": ("department", catalog.departments),
            "queue": ("queue", catalog.queues),
            "sla": ("SLA policy", catalog.sla_policies),
            "calendar": ("calendar", frozenset(catalog.calendars)),
        }
        if field in known:
            noun, values = known[field]
            return _Vocabulary(noun, known=values)
        if catalog.languages is not None:
            return _Vocabulary("language", known=catalog.languages)
        return _Vocabulary("language code", pattern=_LANGUAGE_CODE)


def _zone(catalog: RuleCatalog, problems: list[RuleProblem]) -> tzinfo:
    try:
        return ZoneInfo(catalog.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            RuleProblem("rule set", "timezone", f'unknown time zone "{catalog.timezone}"')
        )
        return UTC


def _expression_context() -> rule_engine.Context:
    return rule_engine.Context(
        type_resolver=_EXPRESSION_TYPES, default_timezone="utc", mapping_attribute_lookup=False
    )


# Conditions ---------------------------------------------------------------------------------

CHEAP, CLOCK, TEXT, CALENDAR, EXPRESSION = range(5)


def _fact_in(fact: str, values: frozenset[str]) -> Predicate:
    if fact == "service_type":
        return lambda case: case.facts.service_type in values
    if fact == "service_group":
        return lambda case: case.facts.service_group in values
    if fact == "channel":
        return lambda case: case.facts.channel in values
    if fact == "language":
        return lambda case: case.facts.language in values
    return lambda case: case.facts.priority in values


def _member_condition(
    key: str, fact: str
) -> Callable[[Any, _Scope, _Environment], _Condition | None]:
    def compile_member(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
        values = _codes(scope, key, raw, env.vocabulary(key))
        if values is None:
            return None
        return _Condition(key, CHEAP, _fact_in(fact, frozenset(values)), values)

    return compile_member


def _resident_flags(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    values = _strings(scope, "resident_flags", raw)
    if values is None:
        return None
    flags = frozenset(values)
    return _Condition(
        "resident_flags",
        CHEAP,
        lambda case: not flags.isdisjoint(case.facts.resident_flags),
        values,
    )


def _districts(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    values = _codes(scope, "districts", raw, env.vocabulary("districts"))
    if values is None:
        return None
    wanted = frozenset(values)
    return _Condition(
        "districts", CHEAP, lambda case: not wanted.isdisjoint(case.facts.districts), values
    )


def _normalize_text(text: str) -> str:
    """Fold case and accents and collapse whitespace; ASCII text (the usual case) is quicker."""
    folded = text.casefold() if text.isascii() else fold(text)
    return " ".join(folded.split())


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


def _contains_phrase(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` with no word character touching either end.

    ``str.find`` is much quicker than a regular expression that starts with a lookbehind, and
    ``isalnum`` plus underscore is exactly what ``\\w`` means in a Unicode pattern.
    """
    start = text.find(phrase)
    while start != -1:
        end = start + len(phrase)
        if (start == 0 or not _is_word_character(text[start - 1])) and (
            end == len(text) or not _is_word_character(text[end])
        ):
            return True
        start = text.find(phrase, start + 1)
    return False


def _phrases_test(phrases: Sequence[str]) -> Predicate:
    """Single words are looked up in the case's set of words; a longer phrase is searched for
    only when all its words are there, which rules out almost every case at set speed."""
    normalized = dict.fromkeys(_normalize_text(phrase) for phrase in phrases)
    single = frozenset(phrase for phrase in normalized if _WORD.fullmatch(phrase))
    longer = tuple(
        (frozenset(_WORD.findall(phrase)), phrase) for phrase in normalized if phrase not in single
    )
    if not longer:
        return lambda case: not single.isdisjoint(case.words())

    def found(case: _Case) -> bool:
        words = case.words()
        if not single.isdisjoint(words):
            return True
        return any(
            needed <= words and _contains_phrase(case.text(), phrase) for needed, phrase in longer
        )

    return found


def _keywords(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    values = _strings(scope, "keywords", raw)
    if values is None:
        return None
    too_long = [value for value in values if len(value) > MAX_KEYWORD_LENGTH]
    for value in too_long:
        scope.add("keywords", f'keyword "{value[:40]}…" is longer than {MAX_KEYWORD_LENGTH}')
    if too_long:
        return None
    return _Condition("keywords", TEXT, _phrases_test(values), values)


def _days(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    values = _codes(scope, "days", raw, env.vocabulary("days"))
    if values is None:
        return None
    days = frozenset(values)
    return _Condition("days", CLOCK, lambda case: case.weekday() in days, values)


def _clock_minute(scope: _Scope, field: str, raw: Any) -> int | None:
    match = _HH_MM.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        scope.add(field, f'must be a time as "HH:MM" (00:00 to 23:59), not {raw!r}')
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def _object(scope: _Scope, field: str, raw: Any, keys: Sequence[str]) -> Mapping[str, Any] | None:
    """An object with exactly ``keys``, or None after reporting what is wrong."""
    if not isinstance(raw, Mapping):
        scope.add(field, f"must be an object, not {_type_name(raw)}")
        return None
    inner = scope.nested(f"{field}.")
    _check_keys(inner, raw, keys, "key")
    for key in keys:
        if key not in raw:
            inner.add(key, "is required")
    return raw if set(raw) == set(keys) else None


def _time_of_day(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    value = _object(scope, "time_of_day", raw, ("from", "to"))
    if value is None:
        return None
    inner = scope.nested("time_of_day.")
    start = _clock_minute(inner, "from", value["from"])
    end = _clock_minute(inner, "to", value["to"])
    if start is None or end is None:
        return None
    if start == end:
        scope.add("time_of_day", "from and to are the same time: the window would be empty")
        return None
    source = {"from": value["from"], "to": value["to"]}
    return _Condition("time_of_day", CLOCK, _clock_window(start, end), source)


def _clock_window(start: int, end: int) -> Predicate:
    if start < end:
        return lambda case: start <= case.minute_of_day() < end

    def wrapped(case: _Case) -> bool:
        minute = case.minute_of_day()
        return minute >= start or minute < end

    return wrapped


def _business_hours(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    value = _object(scope, "business_hours", raw, ("calendar", "open"))
    if value is None:
        return None
    inner = scope.nested("business_hours.")
    code = _code(inner, "calendar", value["calendar"], env.vocabulary("calendar"))
    wanted = value["open"]
    if not isinstance(wanted, bool):
        inner.add("open", f"must be true or false, not {_type_name(wanted)}")
    if code is None or not isinstance(wanted, bool):
        return None
    calendar = env.catalog.calendars[code]
    source = {"calendar": code, "open": wanted}
    return _Condition(
        "business_hours", CALENDAR, lambda case: calendar.is_open(case.at) == wanted, source
    )


def _parse_expression(scope: _Scope, raw: Any, env: _Environment) -> rule_engine.Rule | None:
    problem = _text_problem(raw)
    if problem:
        scope.add("expression", problem)
        return None
    if len(raw) > MAX_EXPRESSION_LENGTH:
        scope.add("expression", f"is longer than {MAX_EXPRESSION_LENGTH} characters")
        return None
    try:
        parsed = rule_engine.Rule(raw, env.expressions)
    except rule_engine.EngineError as error:
        hint = getattr(error, "suggestion", None)
        suggestion = f' (did you mean "{hint}"?)' if hint else ""
        scope.add("expression", f"bad expression: {error.message}{suggestion}")
        return None
    result = rule_engine.DataType.NULLABLE.unwrap(parsed.statement.expression.result_type)
    if result not in (rule_engine.DataType.BOOLEAN, rule_engine.DataType.UNDEFINED):
        scope.add("expression", f"bad expression: it gives a {result.name}, not true or false")
        return None
    return parsed


def _expression(raw: Any, scope: _Scope, env: _Environment) -> _Condition | None:
    parsed = _parse_expression(scope, raw, env)
    if parsed is None:
        return None
    label = scope.rule

    def evaluate(case: _Case) -> bool:
        try:
            return bool(parsed.matches(case.symbols()))
        except rule_engine.EngineError as error:
            log.warning("routing rule %r: expression failed: %s", label, error.message)
            return False

    return _Condition("expression", EXPRESSION, evaluate, raw)


_CONDITION_COMPILERS: Final[dict[str, Callable[[Any, _Scope, _Environment], _Condition | None]]] = {
    "service_types": _member_condition("service_types", "service_type"),
    "service_groups": _member_condition("service_groups", "service_group"),
    "channels": _member_condition("channels", "channel"),
    "languages": _member_condition("languages", "language"),
    "priorities": _member_condition("priorities", "priority"),
    "keywords": _keywords,
    "resident_flags": _resident_flags,
    "districts": _districts,
    "business_hours": _business_hours,
    "time_of_day": _time_of_day,
    "days": _days,
    "expression": _expression,
}


def _compile_when(raw: Any, scope: _Scope, env: _Environment) -> list[_Condition] | None:
    """The rule's conditions in canonical order, or None if any is invalid."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        scope.add("when", f"must be an object, not {_type_name(raw)}")
        return None
    inner = scope.nested("when.")
    before = len(scope.problems)
    _check_keys(inner, raw, CONDITIONS, "condition")
    conditions = [
        _CONDITION_COMPILERS[key](raw[key], inner, env) for key in CONDITIONS if key in raw
    ]
    if len(scope.problems) > before:
        return None
    return [condition for condition in conditions if condition is not None]


# Actions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Actions:
    """What a rule (or the default) sets; None means "not set here"."""

    department: str | None = None
    queue: str | None = None
    priority: str | None = None
    skills: tuple[str, ...] | None = None
    language: str | None = None
    sla: str | None = None
    targets: tuple[tuple[str, int | None], ...] | None = None


def _timeout(scope: _Scope, field: str, raw: Any, last: bool) -> int | None:
    if raw is None:
        if not last:
            scope.add(field, "is required on every target but the last")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        scope.add(field, f"must be a whole number of seconds, not {_type_name(raw)}")
        return None
    if not 1 <= raw <= MAX_TIMEOUT_SECONDS:
        scope.add(field, f"must be between 1 and {MAX_TIMEOUT_SECONDS:,} seconds, not {raw}")
    return raw


def _targets(
    scope: _Scope, raw: Any, env: _Environment
) -> tuple[tuple[str, int | None], ...] | None:
    if not _is_list(raw) or not raw:
        scope.add("targets", f"must be a non-empty list of targets, not {_type_name(raw)}")
        return None
    before = len(scope.problems)
    targets: list[tuple[str, int | None]] = []
    for position, item in enumerate(raw):
        field = f"targets[{position}]"
        target = _target(scope, field, item, env, last=position == len(raw) - 1)
        if target is not None:
            targets.append(target)
    return tuple(targets) if len(scope.problems) == before else None


def _target(
    scope: _Scope, field: str, raw: Any, env: _Environment, *, last: bool
) -> tuple[str, int | None] | None:
    if not isinstance(raw, Mapping):
        scope.add(field, f"must be an object, not {_type_name(raw)}")
        return None
    inner = scope.nested(f"{field}.")
    _check_keys(inner, raw, ("queue", "timeout"), "key")
    if "queue" not in raw:
        inner.add("queue", "is required")
        queue = None
    else:
        queue = _code(inner, "queue", raw["queue"], env.vocabulary("queue"))
    timeout = _timeout(inner, "timeout", raw.get("timeout"), last)
    return None if queue is None else (queue, timeout)


def _language(scope: _Scope, raw: Any, env: _Environment) -> str | None:
    if raw == CASE_LANGUAGE:
        return CASE_LANGUAGE
    return _code(scope, "language", raw, env.vocabulary("language"))


def _action_values(raw: Mapping[str, Any], scope: _Scope, env: _Environment) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in ("department", "queue", "priority", "sla"):
        if key in raw:
            values[key] = _code(scope, key, raw[key], env.vocabulary(key))
    if "skills" in raw:
        skills = _strings(scope, "skills", raw["skills"], allow_empty=True)
        values["skills"] = None if skills is None else tuple(skills)
    if "language" in raw:
        values["language"] = _language(scope, raw["language"], env)
    if "targets" in raw:
        values["targets"] = _targets(scope, raw["targets"], env)
    return values


def _compile_actions(raw: Any, scope: _Scope, env: _Environment) -> _Actions | None:
    """The actions, with queue and targets completing each other, or None if any is invalid."""
    if not isinstance(raw, Mapping):
        scope.add("", f"must be an object, not {_type_name(raw)}")
        return None
    before = len(scope.problems)
    _check_keys(scope, raw, ACTIONS, "action")
    values = _action_values(raw, scope, env)
    if len(scope.problems) > before:
        return None
    queue, targets = values.get("queue"), values.get("targets")
    if targets is not None and queue is not None and queue != targets[0][0]:
        scope.add("queue", f'"{queue}" differs from the first target\'s queue "{targets[0][0]}"')
        return None
    if targets is None and queue is not None:
        values["targets"] = ((queue, None),)
    if queue is None and targets is not None:
        values["queue"] = targets[0][0]
    return _Actions(**values)


def _actions_source(raw: Mapping[str, Any]) -> dict[str, Any]:
    source = {key: _copy_json(list(raw[key]) if _is_list(raw[key]) else raw[key]) for key in raw}
    if "targets" in source:
        source["targets"] = [_target_source(target) for target in raw["targets"]]
    return {key: source[key] for key in ACTIONS if key in source}


def _target_source(raw: Mapping[str, Any]) -> dict[str, Any]:
    timeout = raw.get("timeout")
    return (
        {"queue": raw["queue"]} if timeout is None else {"queue": raw["queue"], "timeout": timeout}
    )


def _outcome(label: str | None, index: int | None, chosen: _Actions, default: _Actions) -> _Outcome:
    routed = chosen if chosen.queue is not None else default
    language = chosen.language if chosen.language is not None else default.language
    decision = Decision(
        rule=label,
        rule_index=index,
        department=chosen.department if chosen.department is not None else default.department,
        queue=routed.queue,
        priority=chosen.priority if chosen.priority is not None else default.priority,
        skills=chosen.skills if chosen.skills is not None else default.skills or (),
        language=None if language == CASE_LANGUAGE else language,
        sla=chosen.sla if chosen.sla is not None else default.sla,
        targets=routed.targets or (),
    )
    return _Outcome(decision, language_from_case=language == CASE_LANGUAGE)


# Rules --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Draft:
    """A valid rule before the default is known."""

    label: str
    index: int
    enabled: bool
    conditions: tuple[_Condition, ...]
    actions: _Actions
    source: dict[str, Any]


def _label(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, Mapping) else None
    return name if isinstance(name, str) and name.strip() else f"rule {index + 1}"


def _check_name(scope: _Scope, raw: Mapping[str, Any]) -> None:
    if "name" not in raw:
        return
    name = raw["name"]
    problem = _text_problem(name)
    if problem:
        scope.add("name", problem)
    elif len(name) > MAX_NAME_LENGTH:
        scope.add("name", f"is longer than {MAX_NAME_LENGTH} characters")


def _compile_rule(
    raw: Any, index: int, env: _Environment, problems: list[RuleProblem]
) -> _Draft | None:
    scope = _Scope(_label(raw, index), "", problems)
    if not isinstance(raw, Mapping):
        scope.add("", f"a rule must be an object, not {_type_name(raw)}")
        return None
    before = len(problems)
    _check_keys(scope, raw, RULE_KEYS, "key")
    _check_name(scope, raw)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        scope.add("enabled", f"must be true or false, not {_type_name(enabled)}")
    conditions = _compile_when(raw.get("when"), scope, env)
    then = raw.get("then")
    if not isinstance(then, Mapping) or not then:
        scope.add("then", "a rule needs a non-empty object of actions")
        actions = None
    else:
        actions = _compile_actions(then, scope.nested("then."), env)
    if len(problems) > before or conditions is None or actions is None:
        return None
    return _Draft(
        scope.rule, index, enabled, tuple(conditions), actions, _rule_source(raw, conditions)
    )


def _rule_source(raw: Mapping[str, Any], conditions: Sequence[_Condition]) -> dict[str, Any]:
    source: dict[str, Any] = {"name": raw["name"]} if "name" in raw else {}
    source["enabled"] = raw.get("enabled", True)
    source["when"] = {condition.name: _copy_json(condition.source) for condition in conditions}
    source["then"] = _actions_source(raw["then"])
    return source


def _check_unique_names(raw_rules: Sequence[Any], problems: list[RuleProblem]) -> None:
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            continue
        if name in seen:
            message = f'duplicate rule name "{name}" (also rule {seen[name] + 1})'
            problems.append(RuleProblem(name, "name", message))
        else:
            seen[name] = index


def _top_level(raw: Any, problems: list[RuleProblem]) -> tuple[list[Any], Any]:
    scope = _Scope("rule set", "", problems)
    if not isinstance(raw, Mapping):
        scope.add("", f"a rule set must be an object, not {_type_name(raw)}")
        return [], {}
    _check_keys(scope, raw, TOP_LEVEL_KEYS, "key")
    rules = raw.get("rules", [])
    if not _is_list(rules):
        scope.add("rules", f"must be a list, not {_type_name(rules)}")
        rules = []
    elif len(rules) > MAX_RULES:
        scope.add("rules", f"too many rules ({len(rules):,}; the limit is {MAX_RULES:,})")
        rules = []
    return list(rules), raw.get("default", {})


def _build(
    drafts: Sequence[_Draft], default: _Actions, zone: tzinfo, default_source: dict[str, Any]
) -> CompiledRuleSet:
    rules = [
        _Rule(
            label=draft.label,
            index=draft.index,
            tests=tuple(c.test for c in sorted(draft.conditions, key=lambda c: c.cost)),
            conditions=draft.conditions,
            outcome=_outcome(draft.label, draft.index, draft.actions, default),
        )
        for draft in drafts
        if draft.enabled
    ]
    source = {"rules": [draft.source for draft in drafts], "default": default_source}
    return CompiledRuleSet(rules, _outcome(None, None, _Actions(), default), zone, source)


def compile_rule_set(raw: Any, catalog: RuleCatalog) -> CompiledRuleSet:
    """Validate a rule set against the jurisdiction's names and compile it for routing.

    Raises :class:`RuleSetError` listing every problem found, not just the first.
    """
    problems: list[RuleProblem] = []
    env = _Environment(catalog, _zone(catalog, problems), _expression_context())
    raw_rules, raw_default = _top_level(raw, problems)
    drafts = [_compile_rule(rule, index, env, problems) for index, rule in enumerate(raw_rules)]
    _check_unique_names(raw_rules, problems)
    default = _compile_actions(raw_default, _Scope("default", "", problems), env)
    if problems or default is None:
        raise RuleSetError(problems)
    valid = [draft for draft in drafts if draft is not None]
    return _build(valid, default, env.zone, _actions_source(raw_default))


EMPTY_RULE_SET: Final = CompiledRuleSet(
    (), _outcome(None, None, _Actions(), _Actions()), UTC, {"rules": [], "default": {}}
)
