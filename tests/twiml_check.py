"""``assert_valid_twiml``: would Twilio accept this voice TwiML? Checked before a test trusts it.

Twilio answers an invalid document with an "application error" to the caller, so every TwiML
our webhooks return is checked against Twilio's schema (``shared/testdata/twilio/TwiML.xsd``,
from Twilio's own library tests) and its size limit. That schema predates some attributes and
values Twilio documents today; those, and only those, are allowed here explicitly. Without the
shared test data the check falls back to a built-in table of the voice verbs, never to nothing.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

from lxml import etree

XSD_PATH = Path(__file__).resolve().parents[1].parent / "shared/testdata/twilio/TwiML.xsd"
MAX_TWIML_BYTES = 64 * 1024
"""https://www.twilio.com/docs/voice/twiml#twiml-size-limit: a document is at most 64 kB."""

XS = "{http://www.w3.org/2001/XMLSchema}"

# Attributes Twilio documents that TwiML.xsd does not know. They are removed before the schema
# check, on these elements only: any other attribute the schema does not know still fails.
MODERN_ATTRIBUTES: dict[str, frozenset[str]] = {
    # https://www.twilio.com/docs/voice/twiml/gather#attributes (the schema has action,
    # finishOnKey, input, method, numDigits and timeout)
    "Gather": frozenset(
        {
            "actionOnEmptyResult",
            "bargeIn",
            "debug",
            "enhanced",
            "hints",
            "language",
            "maxSpeechTime",
            "partialResultCallback",
            "partialResultCallbackMethod",
            "profanityFilter",
            "speechModel",
            "speechTimeout",
        }
    ),
    # https://www.twilio.com/docs/voice/twiml/enqueue#attributes (the schema's "waitMethod" is
    # not Twilio's name for it)
    "Enqueue": frozenset({"maxQueueSize", "waitUrlMethod", "workflowSid"}),
    # https://www.twilio.com/docs/voice/twiml/dial#attributes
    "Dial": frozenset(
        {
            "answerOnBridge",
            "recordingStatusCallback",
            "recordingStatusCallbackEvent",
            "recordingStatusCallbackMethod",
            "recordingTrack",
            "ringTone",
            "sequential",
            "trim",
        }
    ),
    # https://www.twilio.com/docs/voice/twiml/record#attributes
    "Record": frozenset(
        {
            "recordingStatusCallback",
            "recordingStatusCallbackEvent",
            "recordingStatusCallbackMethod",
            "trim",
        }
    ),
    # https://www.twilio.com/docs/voice/twiml/play#attributes
    "Play": frozenset({"digits"}),
    # https://www.twilio.com/docs/voice/twiml/client#attributes and .../number#attributes
    "Client": frozenset({"statusCallback", "statusCallbackEvent", "statusCallbackMethod"}),
    "Number": frozenset({"statusCallback", "statusCallbackEvent", "statusCallbackMethod", "byoc"}),
}

# Values the schema enumerates from an older Twilio: each simple type is replaced by a pattern.
MODERN_VALUES: dict[str, str] = {
    # https://www.twilio.com/docs/voice/twiml/say/text-speech#available-voices-and-languages:
    # Polly voices (standard, -Neural, -Generative) and Google voices, not only man/woman.
    "VoiceType": r"man|woman|alice|Polly\.[A-Za-z]+(-Neural|-Generative|-LongForm)?"
    r"|Google\.[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9-]+",
    # Same page: BCP-47 tags (es-US, en-NZ, ...), far more than the schema's list.
    "LanguageType": r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*",
    # https://www.twilio.com/docs/voice/twiml/gather#input: "dtmf", "speech" or both.
    "InputType": r"dtmf|speech|dtmf speech|speech dtmf",
}

_GATHER = frozenset({"action", "finishOnKey", "input", "method", "numDigits", "timeout"})
_SPEECH_MARKUP = frozenset(
    {"break", "emphasis", "lang", "p", "phoneme", "prosody", "s", "say-as", "sub", "w"}
)
_VOICE_VERBS = frozenset(
    {"Say", "Play", "Pause", "Gather", "Record", "Redirect", "Enqueue", "Leave", "Dial"}
    | {"Hangup", "Reject"}
)
# Without the schema: each element's documented attributes and allowed children (Twilio's
# TwiML voice reference, https://www.twilio.com/docs/voice/twiml, one page per verb).
FALLBACK_TABLE: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Response": (frozenset(), _VOICE_VERBS),
    "Say": (frozenset({"voice", "language", "loop"}), _SPEECH_MARKUP),
    "Play": (frozenset({"loop", "digits"}), frozenset()),
    "Pause": (frozenset({"length"}), frozenset()),
    "Gather": (_GATHER | MODERN_ATTRIBUTES["Gather"], frozenset({"Say", "Play", "Pause"})),
    "Record": (
        frozenset(
            {"action", "method", "timeout", "finishOnKey", "maxLength", "playBeep"}
            | {"transcribe", "transcribeCallback"}
        )
        | MODERN_ATTRIBUTES["Record"],
        frozenset(),
    ),
    "Redirect": (frozenset({"method"}), frozenset()),
    "Enqueue": (
        frozenset({"action", "method", "waitUrl"}) | MODERN_ATTRIBUTES["Enqueue"],
        frozenset(),
    ),
    "Leave": (frozenset(), frozenset()),
    "Dial": (
        frozenset({"action", "method", "timeout", "hangupOnStar", "timeLimit", "callerId"})
        | frozenset({"record"})
        | MODERN_ATTRIBUTES["Dial"],
        frozenset({"Client", "Number", "Queue"}),
    ),
    "Client": (frozenset({"url", "method"}) | MODERN_ATTRIBUTES["Client"], frozenset()),
    "Number": (
        frozenset({"sendDigits", "url", "method"}) | MODERN_ATTRIBUTES["Number"],
        frozenset(),
    ),
    "Queue": (
        frozenset({"url", "method", "reservationSid", "postWorkActivitySid"}),
        frozenset(),
    ),
    "Hangup": (frozenset(), frozenset()),
    "Reject": (frozenset({"reason"}), frozenset()),
}


def assert_valid_twiml(body: str) -> None:
    """Raise AssertionError naming the problem unless Twilio would accept this voice TwiML."""
    size = len(body.encode())
    if size > MAX_TWIML_BYTES:
        raise AssertionError(f"TwiML is {size} bytes; Twilio's limit is {MAX_TWIML_BYTES}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(body.encode(), parser)
    except etree.XMLSyntaxError as exc:
        raise AssertionError(f"TwiML is not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise AssertionError(f"the root element is <{root.tag}>; TwiML's must be <Response>")
    schema = _load_schema(XSD_PATH)
    if schema is None:
        _check_against_table(root)
        return
    stripped = copy.deepcopy(root)
    for element in stripped.iter():
        for name in MODERN_ATTRIBUTES.get(str(element.tag), frozenset()):
            element.attrib.pop(name, None)
    if not schema.validate(stripped):
        problems = "; ".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        raise AssertionError(f"TwiML does not match Twilio's schema: {problems}")


@cache
def _load_schema(path: Path) -> etree.XMLSchema | None:
    """The schema with its stale value lists replaced; None without the shared test data."""
    if not path.exists():
        return None
    document = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    for name, pattern in MODERN_VALUES.items():
        [restriction] = document.findall(f"{XS}simpleType[@name='{name}']/{XS}restriction")
        for facet in list(restriction):
            restriction.remove(facet)
        etree.SubElement(restriction, f"{XS}pattern", value=pattern)
    return etree.XMLSchema(document)


def _check_against_table(element: etree._Element) -> None:
    name = str(element.tag)
    known = FALLBACK_TABLE.get(name)
    if name in _SPEECH_MARKUP:  # only reachable inside <Say>; SSML attributes are not checked
        known = (frozenset(element.attrib), _SPEECH_MARKUP)
    if known is None:
        raise AssertionError(f"<{name}> is not a TwiML voice verb or noun")
    attributes, children = known
    for attribute in element.attrib:
        if attribute not in attributes:
            raise AssertionError(f"<{name}> has no attribute {attribute!r}")
    for child in element:
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction
        if child.tag not in children:
            raise AssertionError(f"<{child.tag}> is not allowed inside <{name}>")
        _check_against_table(child)
