"""Tracking numbers people can read aloud, type on a phone keypad and text back.

Eight digits shown as ``1234-5678``: digits only, so a caller can key them into the IVR;
random, so they reveal nothing about volumes and cannot be enumerated; and the last digit is
a Luhn check digit, so a mistyped number is caught before it finds someone else's case.
"""

from __future__ import annotations

import re
import secrets

_PATTERN = re.compile(r"(?<!\d)(\d{4})[\s.-]?(\d{4})(?!\d)")


def _luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def is_valid(digits: str) -> bool:
    return len(digits) == 8 and digits.isdigit() and _luhn_check_digit(digits[:7]) == digits[7]


def generate() -> str:
    body = f"{secrets.randbelow(9_000_000) + 1_000_000}"
    return format_number(body + _luhn_check_digit(body))


def format_number(digits: str) -> str:
    return f"{digits[:4]}-{digits[4:]}"


def find_in_text(text: str) -> str | None:
    """The first valid tracking number quoted in ``text``, formatted, or None."""
    for match in _PATTERN.finditer(text):
        digits = match.group(1) + match.group(2)
        if is_valid(digits):
            return format_number(digits)
    return None


def looks_like_attempt(text: str) -> str | None:
    """Eight digits that fail the check digit: a mistyped tracking number."""
    match = _PATTERN.search(text)
    return format_number(match.group(1) + match.group(2)) if match else None
