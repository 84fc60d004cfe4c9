"""Normalizing the addresses residents write from: phone numbers and emails."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from contactcenter.messages import ContactKind


@dataclass(frozen=True)
class NormalizedAddress:
    kind: ContactKind
    address: str
    is_valid: bool


def normalize_phone(raw: str, default_region: str) -> NormalizedAddress:
    """E.164 when phonenumbers can parse and validate ``raw``, else ``raw`` as given, flagged.

    Short codes and alphanumeric sender ids are real senders that are not phone numbers; they
    must still find their resident, so they are kept verbatim rather than rejected.
    """
    cleaned = raw.strip()
    try:
        number = phonenumbers.parse(cleaned, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        return NormalizedAddress(ContactKind.PHONE, cleaned, False)
    if not phonenumbers.is_possible_number(number):
        return NormalizedAddress(ContactKind.PHONE, cleaned, False)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return NormalizedAddress(ContactKind.PHONE, e164, phonenumbers.is_valid_number(number))


def normalize_email(raw: str) -> NormalizedAddress:
    cleaned = raw.strip().lower()
    local, _, domain = cleaned.rpartition("@")
    return NormalizedAddress(ContactKind.EMAIL, cleaned, bool(local and "." in domain))


def normalize(kind: ContactKind, raw: str, default_region: str) -> NormalizedAddress:
    if kind is ContactKind.PHONE:
        return normalize_phone(raw, default_region)
    if kind is ContactKind.EMAIL:
        return normalize_email(raw)
    return NormalizedAddress(kind, raw.strip(), bool(raw.strip()))
