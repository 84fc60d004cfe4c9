"""Masking residents' contact details out of free text before it is published.

Residents write their phone number or email into descriptions ("call me at 555-123-4567").
Open311 responses are public open data, so anything that looks like one is replaced by a mask
before it leaves: phonenumbers' matcher (leniency POSSIBLE, so unassigned or fictional numbers
are caught too) for the jurisdiction's region and for international ``+`` numbers, a
catch-all for long digit runs written in another country's style, and an email pattern.
A valid tracking number ("1234-5678") is kept: it is the request's public id.
"""

from __future__ import annotations

import re

import phonenumbers

from contactcenter import tracking

MASK = "[redacted]"

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+(?:@|\s*\(at\)\s*|\s*\[at\]\s*)"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+",
    re.IGNORECASE,
)
# Nine or more digits, possibly split by spaces, dots, dashes, slashes or parentheses:
# a phone number of a style the region's matcher does not know.
_LONG_DIGIT_RUN = re.compile(r"(?<![\w])\+?\(?\d(?:[\s().\-/]{0,2}\d){8,}(?![\w])")
_TRACKING_SHAPE = re.compile(r"\d{4}[\s.-]?\d{4}")
_ORDINAL_AFTER = re.compile(r"(?:st|nd|rd|th)\b", re.IGNORECASE)
_CANDIDATE = re.compile(r"\d(?:[\s().\-/]{0,3}\d){5,}")
"""Six digits or more close together: text without any holds no phone number worth a
matcher's time (most descriptions, so a page of 1000 requests stays fast)."""


def _phone_spans(text: str, region: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    if not _CANDIDATE.search(text):
        return spans
    for matcher_region in dict.fromkeys((region.upper() or "US", "ZZ")):
        for match in phonenumbers.PhoneNumberMatcher(
            text, matcher_region, leniency=phonenumbers.Leniency.POSSIBLE
        ):
            raw = match.raw_string
            if _TRACKING_SHAPE.fullmatch(raw) and tracking.is_valid(re.sub(r"\D", "", raw)):
                continue
            if _ORDINAL_AFTER.match(text, match.end):
                continue  # "123-45 67th Ave": a Queens house number and a street, not a phone
            spans.append((match.start, match.end))
    spans.extend(m.span() for m in _LONG_DIGIT_RUN.finditer(text))
    return spans


def mask_personal_data(text: str, region: str = "US") -> str:
    """``text`` with phone numbers and email addresses replaced by ``[redacted]``.

    :param region: the jurisdiction's country (ISO 3166 alpha-2), for numbers written
        without their country code; international ``+`` numbers are found whatever it is.
    """
    if not text:
        return ""
    # Emails first, so their digits are not read as phone numbers.
    without_emails = text
    if "@" in text or "(at)" in text.lower() or "[at]" in text.lower():
        without_emails = _replace_spans(text, [m.span() for m in _EMAIL.finditer(text)])
    return _replace_spans(without_emails, _phone_spans(without_emails, region))


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
