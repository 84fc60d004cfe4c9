"""Trim quoted history and signatures from a reply, so staff read what the resident just wrote.

The scan is line-based and linear: each candidate header is matched against a short window of
lines (mail-parser-reply's multilingual "wrote:" patterns plus our own), so pathological bodies
cannot make a regular expression backtrack over the whole text.
"""

from __future__ import annotations

import re

from mailparser_reply.constants import MAIL_LANGUAGES

MAX_LINE = 400  # characters of a line examined by the header patterns
MAX_HEADER_LINES = 3  # "On <date>, <name>\n<address>\nwrote:" spans up to three lines

_OWN_WROTE = [
    r"^On\b.{0,300}\bwrote\s*:$",
    r"^Le\b.{0,300}\ba\s+écrit\s*:$",
    r"^El\b.{0,300}\bescribió\s*:$",
    r"^Am\b.{0,300}\bschrieb\b.{0,200}:$",
    r"^Op\b.{0,300}\bschreef\b.{0,200}:$",
    r"^Il\b.{0,300}\bha scritto\s*:$",
    r"^Em\b.{0,300}\bescreveu\s*:$",
]
# Any "... wrote:" line: a header only when quoted (">") lines follow it.
_LOOSE_WROTE = re.compile(
    r"^.{0,300}\b(?:wrote|a écrit|escribió|escreveu|schrieb|schreef|ha scritto)\s*:$", re.IGNORECASE
)
# Words a multi-line "wrote:" header starts with; other lines are matched on their own.
_HEADER_START = re.compile(r"^(?:On|Le|El|Am|Op|Il|Em|Dne|Den|Dnia|\d{4}年|\d{4}년)\b", re.I)


def _library_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for rules in MAIL_LANGUAGES.values():
        source = rules.get("wrote_header")
        if isinstance(source, str):
            try:
                patterns.append(re.compile(source, re.IGNORECASE))
            except re.error:
                continue
    return patterns


_WROTE = [re.compile(source, re.IGNORECASE) for source in _OWN_WROTE] + _library_patterns()
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(?:original message|mensaje original|message d'origine|ursprüngliche nachricht"
    r"|messaggio originale|mensagem original|oorspronkelijk bericht)\s*-{2,}$"
    r"|^-{3,}\s*original message\s*-{3,}$|^-+\s*Original\s*-+$",
    re.IGNORECASE,
)
_FROM_FIELD = re.compile(r"^\*?\s*(?:From|De|Von|Da|Van|Od|Från|Fra)\s*\*?\s*:", re.IGNORECASE)
_OTHER_FIELD = re.compile(
    r"^\*?\s*(?:Sent|Date|To|Subject|Cc|Envoyé|Enviado|Fecha|Para|Asunto|À|Objet|Gesendet|An"
    r"|Betreff|Datum|Inviato|Oggetto|Verzonden|Aan|Onderwerp|Data)\s*\*?\s*:",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^[_\-=]{20,}$")
_SIGNATURE = re.compile(
    r"^(?:--|-- |__)$"
    r"|^(?:Sent from my|Sent from|Sent via|Get Outlook for|Envoyé de mon|Envoyé depuis"
    r"|Enviado desde mi|Enviado de mi|Enviado do meu|Von meinem|Gesendet von|Inviato da"
    r"|Verzonden vanaf mijn)\b[^.,;!?\n]{0,50}$",
    re.IGNORECASE,
)


def trim_reply(text: str) -> str:
    """``text`` without quoted history and signature; the original if nothing would remain."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if _quoted(stripped):
            index += 1
            continue
        header_end = _header_end(lines, index)
        if header_end is not None:
            next_line = _next_nonblank(lines, header_end)
            if next_line is not None and _quoted(lines[next_line].strip()):
                # The quote is marked: drop the header and the ">" lines, keep any inline reply.
                index = header_end
                continue
            break
        if _LOOSE_WROTE.match(stripped[:MAX_LINE]):
            next_line = _next_nonblank(lines, index + 1)
            if next_line is not None and _quoted(lines[next_line].strip()):
                index += 1
                continue
        if _SIGNATURE.match(stripped) or _outlook_block(lines, index):
            break
        if _SEPARATOR.match(stripped) and (
            stripped.startswith("_") or _outlook_block(lines, _next_nonblank(lines, index + 1))
        ):
            break
        kept.append(line.rstrip())
        index += 1
    trimmed = "\n".join(kept).strip("\n")
    trimmed = re.sub(r"\n{3,}", "\n\n", trimmed).strip()
    return trimmed if trimmed else text


def _quoted(stripped: str) -> bool:
    return stripped.startswith(">")


def _next_nonblank(lines: list[str], start: int) -> int | None:
    for index in range(start, min(len(lines), start + 6)):
        if lines[index].strip():
            return index
    return None


def _header_end(lines: list[str], index: int) -> int | None:
    """Index just past an "On ... wrote:" or "-----Original Message-----" header at ``index``."""
    first = lines[index].strip()[:MAX_LINE]
    if not first:
        return None
    if _ORIGINAL_MESSAGE.match(first):
        return index + 1
    window = first
    for extra in range(MAX_HEADER_LINES if _HEADER_START.match(first) else 1):
        if extra:
            if index + extra >= len(lines) or not lines[index + extra].strip():
                return None
            window += " " + lines[index + extra].strip()[:MAX_LINE]
        if window.endswith(":") and any(pattern.search(window) for pattern in _WROTE):
            return index + extra + 1
    return None


def _outlook_block(lines: list[str], index: int | None) -> bool:
    """A "From: ..." line followed by other mail header fields: a quoted Outlook message."""
    if index is None or index >= len(lines) or not _FROM_FIELD.match(lines[index].strip()):
        return False
    fields = sum(
        1 for line in lines[index + 1 : index + 6] if _OTHER_FIELD.match(line.strip()[:MAX_LINE])
    )
    return fields >= 2
