"""Masking residents' contact details out of free text before it is published.

Residents write their phone number or email into descriptions ("call me at 555-123-4567").
Open311 responses are public open data, so anything that looks like one is replaced by a mask
before it leaves: phonenumbers' matcher (leniency POSSIBLE, so unassigned or fictional numbers
are caught too) for the jurisdiction's region and for international ``+`` numbers, a
catch-all for long digit runs written in another country's style, and an email pattern.
A valid tracking number ("1234-5678") is kept: it is the request's public id.

Public GETs mask every text they publish, so the cost of masking is bounded whatever the text:
the patterns have bounded repetitions and cannot start a match inside a run (no quadratic
backtracking), and the matcher only reads short stretches of digits, a bounded number of them.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

import phonenumbers

from contactcenter import tracking

MASK = "[redacted]"

_LOCAL_CHARS = r"\w.!#$%&'*+/=?^`{|}~-"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
"""A domain label: letters or digits (any script), hyphens inside, at most 63 characters."""
_EMAIL = re.compile(
    # The local part: at most 64 characters (RFC 5321), and never starting inside a longer run
    # of them, so a run of 10,000 letters before an @ costs one try, not 10,000 tries of 64.
    rf"(?:(?<![{_LOCAL_CHARS}])[{_LOCAL_CHARS}]{{1,64}}|\"[^\"\\\r\n]{{1,64}}\")"
    r"(?:@|\s{0,3}[(\[]at[)\]]\s{0,3})"
    rf"(?:{_LABEL}(?:\.{_LABEL})+|\[(?:\d{{1,3}}(?:\.\d{{1,3}}){{3}}|IPv6:[0-9A-Fa-f:.]{{2,45}})\])",
    re.IGNORECASE,
)
# Nine or more digits, possibly split by spaces, dots, dashes, underscores, slashes or
# parentheses: a phone number of a style the region's matcher does not know (202_555_0143).
_LONG_DIGIT_RUN = re.compile(r"(?<![^\W_])\+?\(?\d(?:[\s().\-/_]{0,2}\d){8,}(?![^\W_])")
_VANITY = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+?1[\s.\-]?)?\(?(?:8(?:00|33|44|55|66|77|88)|900)\)?"  # toll free, 1 optional
    r"|\+?1[\s.\-]\(?[2-9]\d{2}\)?"  # any area code after an explicit 1
    r")[\s.\-]?[A-Z0-9](?:[.\-]?[A-Z0-9]){6,9}(?!\w)"
)
"""A number spelled in capitals on the keypad: 1-800-FLOWERS, 1-888-GOT-JUNK."""
_TRACKING_SHAPE = re.compile(r"\d{4}[\s.-]?\d{4}")
_ORDINAL_AFTER = re.compile(r"(?:st|nd|rd|th)\b", re.IGNORECASE)
_CANDIDATE = re.compile(r"\d(?:[\s().\-/_]{0,3}\d){5,}")
"""Six digits or more close together: only these stretches are read by phonenumbers' matcher
(most descriptions have none, so a page of 1000 requests stays fast)."""
MAX_CANDIDATE = 40
"""A stretch of digits longer than this is masked whole rather than read by the matcher: no
phone number is written that long, and the matcher's cost on long digit-heavy text is what
an adversary would have us spend (it is a list of numbers, which the long-digit catch-all
masks anyway when its separators are short)."""
MAX_MATCHED = 100
"""Stretches of one text read by the matcher (about 0.3 ms each); any further ones are
masked whole, so no text costs more than a few tens of milliseconds whatever its length."""
_CONTEXT = 8
"""Characters around a stretch the matcher also sees: a leading ``+`` or ``(``, and what
follows a date-like stretch (a time makes it a timestamp, not a number)."""


def _phone_spans(text: str, region: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    # The region's matcher also finds international "+" numbers; an unknown region, those only.
    matcher_region = region.upper() or "US"
    if matcher_region not in phonenumbers.SUPPORTED_REGIONS:
        matcher_region = "ZZ"
    for count, candidate in enumerate(_CANDIDATE.finditer(text)):
        start, end = candidate.span()
        if end - start > MAX_CANDIDATE or count >= MAX_MATCHED:
            spans.append((start, end))
            continue
        window_start = max(0, start - _CONTEXT)
        window = text[window_start : end + _CONTEXT]
        for match in phonenumbers.PhoneNumberMatcher(
            window, matcher_region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            found = (window_start + match.start, window_start + match.end)
            if not _kept(text, match.raw_string, found[1]):
                spans.append(found)
    spans.extend(m.span() for m in _LONG_DIGIT_RUN.finditer(text))
    return spans


def _kept(text: str, raw: str, end: int) -> bool:
    """A tracking number (the request's public id) or a Queens house number ("123-45 67th
    Ave": a number and a street, not a phone) is left as written."""
    if _TRACKING_SHAPE.fullmatch(raw) and tracking.is_valid(re.sub(r"\D", "", raw)):
        return True
    return _ORDINAL_AFTER.match(text, end) is not None


def mask_personal_data(text: str, region: str = "US") -> str:
    """``text`` with phone numbers and email addresses replaced by ``[redacted]``.

    The patterns read a normalized copy of the text: compatibility forms folded (NFKC: a
    full-width at sign or digit is an @ or a digit) and percent-escapes decoded
    (``jo%40example.com``); what is masked is the matching stretch of the text as written
    (in NFC).

    :param region: the jurisdiction's country (ISO 3166 alpha-2), for numbers written
        without their country code; international ``+`` numbers are found whatever it is.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    readable, starts, ends = _matchable(text)
    spans: list[tuple[int, int]] = []
    lowered = readable.lower()
    if "@" in readable or "(at)" in lowered or "[at]" in lowered:
        spans = [m.span() for m in _EMAIL.finditer(readable)]
        # Emails first, so their digits are not read as phone numbers.
        readable = _blanked(readable, spans)
    spans.extend(_phone_spans(readable, region))
    spans.extend(m.span() for m in _VANITY.finditer(readable))
    if starts is not None and ends is not None:
        spans = [(starts[start], ends[end - 1]) for start, end in spans if end > start]
    return _replace_spans(text, spans)


_PIECE = re.compile(r"(?:%[0-9A-Fa-f]{2})+|.", re.DOTALL)


def _matchable(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """``text`` as the patterns read it, and for each of its characters where it came from
    in ``text`` (start and end); None when it is ``text`` itself (plain ASCII, most text)."""
    if text.isascii() and "%" not in text:
        return text, None, None
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for piece in _PIECE.finditer(text):
        raw = piece.group()
        if len(raw) > 1:
            try:
                read = unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                read = raw
        else:
            read = raw
        read = unicodedata.normalize("NFKC", read)
        pieces.append(read)
        starts.extend([piece.start()] * len(read))
        ends.extend([piece.end()] * len(read))
    return "".join(pieces), starts, ends


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with these spans overwritten by a filler of the same length (positions kept)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "#" * (end - start)
    return "".join(chars)


def _replace_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    last = 0
    for start, end in _merge_spans(spans):
        pieces.append(text[last:start])
        pieces.append(MASK)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
