"""Translations of resident-facing texts (gettext catalogs through Babel).

Catalogs are compiled from the ``.po`` sources once, when the application starts, so there is
no build step and no binary ``.mo`` file in the repository.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
SOURCE_LANGUAGE = "en"


@cache
def available_languages() -> tuple[str, ...]:
    found = sorted(p.name for p in TRANSLATIONS_DIR.iterdir() if (p / "LC_MESSAGES").is_dir())
    return (SOURCE_LANGUAGE, *found)


@cache
def _catalog(language: str) -> NullTranslations:
    po_path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == SOURCE_LANGUAGE or not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def load_catalogs() -> None:
    """Compile every catalog now (at start-up) rather than on a resident's first message."""
    for language in available_languages():
        _catalog(language)


def supported(language: str | None) -> bool:
    return language in available_languages()


def translate(language: str | None, message: str, **params: object) -> str:
    """``message`` in ``language`` (English when unknown), with ``{placeholders}`` filled."""
    text = _catalog(language or SOURCE_LANGUAGE).gettext(message)
    return text.format(**params) if params else text
