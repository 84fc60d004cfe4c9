"""Folding text for matching: case- and accent-insensitive, as residents type on phones."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case without accents, so 'Nid-de-poule', 'ARRÊT' and 'arret' compare alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
