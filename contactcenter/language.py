"""Which of a jurisdiction's languages a resident writes in.

A short text is too little for statistical detectors (they guess wildly on "pothole on
Main"), and we only ever choose among the two or three languages a jurisdiction serves, so a
small table of very common words per language decides; no match keeps the default.
"""

from __future__ import annotations

from collections.abc import Sequence

from contactcenter.folding import fold

_COMMON_WORDS = {
    "en": {
        "the",
        "a",
        "is",
        "on",
        "at",
        "in",
        "there",
        "of",
        "and",
        "my",
        "street",
        "please",
        "broken",
        "near",
        "has",
        "been",
        "not",
        "it",
        "this",
        "hi",
        "hello",
    },
    "fr": {
        "le",
        "la",
        "les",
        "un",
        "une",
        "est",
        "sur",
        "dans",
        "il",
        "y",
        "a",
        "de",
        "du",
        "des",
        "et",
        "rue",
        "bonjour",
        "svp",
        "mon",
        "ma",
        "pas",
        "pres",
        "devant",
        "au",
    },
    "es": {
        "el",
        "la",
        "los",
        "las",
        "un",
        "una",
        "es",
        "en",
        "hay",
        "de",
        "del",
        "y",
        "calle",
        "hola",
        "por",
        "favor",
        "mi",
        "no",
        "esta",
        "cerca",
        "frente",
        "al",
    },
}

LANGUAGE_KEYWORDS = {
    "english": "en",
    "anglais": "en",
    "ingles": "en",
    "francais": "fr",
    "french": "fr",
    "frances": "fr",
    "espanol": "es",
    "spanish": "es",
    "espagnol": "es",
}


def guess_language(text: str, candidates: Sequence[str]) -> str | None:
    words = fold(text).split()
    scores = {
        lang: sum(1 for w in words if w.strip(".,!?;:'\"") in _COMMON_WORDS.get(lang, ()))
        for lang in candidates
    }
    if not scores:
        return None
    best = max(scores, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] == 0 or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None
    return best
