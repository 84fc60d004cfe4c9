"""Finding a location in free text: a street address or an intersection.

This is deliberately a recognizer, not a geocoder: it decides whether the resident already
told us where the problem is, so the conversation knows whether to ask. Geocoding the text
to coordinates belongs to the routing work.
"""

from __future__ import annotations

import re

_STREET_WORDS = (
    r"st|street|ave|avenue|av|rd|road|blvd|boulevard|dr|drive|ln|lane|way|pl|place|ct|court|"
    r"cres|crescent|pkwy|parkway|hwy|highway|terr|terrace|cir|circle|sq|square|"
    r"rue|chemin|ch|boul|route|rang|calle|avenida|av\.|camino|carrera"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}[a-z]?\s+(?:[\w.'-]+\s+){{0,4}}?(?:{_STREET_WORDS})\b\.?",
    re.IGNORECASE,
)
_APOSTROPHES = "'\u2019"  # French and Spanish names use both the ASCII and typographic forms
_FRENCH_ADDRESS = re.compile(
    r"\b\d{1,6},?\s+(?:rue|avenue|av\.?|boulevard|boul\.?|chemin|ch\.|route|rang|place)"
    rf"\s+[\w{_APOSTROPHES} .-]{{2,40}}",
    re.IGNORECASE,
)
_SPANISH_ADDRESS = re.compile(
    r"\b(?:calle|avenida|av\.?|camino|carrera)"
    rf"\s+[\w{_APOSTROPHES} .-]{{2,40}}?\s+(?:#\s*)?\d{{1,6}}\b",
    re.IGNORECASE,
)
# Words that introduce a place rather than name it ("out at Main St", "near the corner").
_NOT_A_NAME = r"(?!(?:at|on|in|near|by|of|the|out|is|a|an|and|to|from|pres|de|du|la|le|en)\b)"
_INTERSECTION = re.compile(
    rf"\b(?:{_NOT_A_NAME}[\w.'-]+\s+){{1,3}}?(?:{_STREET_WORDS})\.?\s*(?:&|and|at|/|et|y|@)\s*"
    rf"(?:[\w.'-]+\s+){{0,3}}?(?:{_STREET_WORDS})\b\.?",
    re.IGNORECASE,
)
_CORNER = re.compile(
    r"\b(?:corner of|intersection of|coin de|angle de|esquina de)\s+"
    r"[\w .'-]+?\s+(?:and|&|et|y)\s+[\w.'-]+(?:\s+[\w.'-]+)?",
    re.IGNORECASE,
)


def extract_location(text: str) -> str | None:
    """The address or intersection quoted in ``text``, or None when there is none."""
    for pattern in (_CORNER, _INTERSECTION, _FRENCH_ADDRESS, _SPANISH_ADDRESS, _ADDRESS):
        match = pattern.search(text)
        if match:
            return " ".join(match.group(0).split()).rstrip(".,")
    return None


def as_location_answer(text: str) -> str:
    """A reply to "where is it?" is taken whole: residents answer with landmarks too."""
    return " ".join(text.split())[:500]
