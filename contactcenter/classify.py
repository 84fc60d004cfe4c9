"""Keyword classification: which service type a resident's words describe."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

from contactcenter.folding import fold

_WORD = re.compile(r"\w+", re.UNICODE)


class Classifiable(Protocol):
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def active(self) -> bool: ...


T = TypeVar("T", bound=Classifiable)


def _tokens(text: str) -> str:
    return " " + " ".join(_WORD.findall(fold(text))) + " "


def classify(service_types: Iterable[T], text: str) -> T | None:
    """The active service type whose keywords appear most in ``text``; ties go to the first.

    Keywords match whole words, and a phrase matches as a contiguous run of words, so
    "light" does not match "lightning".
    """
    haystack = _tokens(text)
    best: T | None = None
    best_score = 0
    for service_type in service_types:
        if not service_type.active:
            continue
        score = sum(1 for keyword in service_type.keywords if _matches(keyword, haystack))
        if score > best_score:
            best, best_score = service_type, score
    return best


def _matches(keyword: str, haystack: str) -> bool:
    needle = _tokens(keyword)
    return bool(needle.strip()) and needle in haystack
