"""Cases, service types and attributes as Open311 GeoReport v2 documents (format-neutral).

Every function returns plain JSON-ready dicts whose keys are the spec's field names, in the
spec's order; :mod:`contactcenter.open311.formats` writes them as JSON or XML. Ids and codes
are strings; an absent text field is ``""`` and an absent time, coordinate or URL is ``None``
(an empty element in XML), as real servers leave elements empty rather than omitting them.

Nothing about the resident, the agents or internal notes is ever read here: a request carries
only the case's own public fields, media only from ``public_media_url`` (set by staff), and
a description only where it was public to begin with (:func:`public_description`), masked by
:func:`contactcenter.open311.privacy.mask_personal_data`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contactcenter.cases.models import OPEN_STATUSES, Case, CaseStatus, DuplicateStatus
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.open311 import filing
from contactcenter.open311.models import AttributeDatatype, ServiceAttribute
from contactcenter.open311.privacy import mask_personal_data

STATUS_NOTES: dict[CaseStatus, str] = {
    CaseStatus.NEW: "Received",
    CaseStatus.OPEN: "Open",
    CaseStatus.IN_PROGRESS: "In progress",
    CaseStatus.RESOLVED: "Resolved",
    CaseStatus.CLOSED: "Closed",
}
"""Fixed public wording of our lifecycle: status notes never quote what staff wrote."""
MAX_DESCRIPTION = 4000
"""The spec: a description is free text "limited to 4,000 characters"."""

_POSTAL_CODES = {
    "US": re.compile(r"\b(\d{5}(?:-\d{4})?)\s*$"),
    "CA": re.compile(r"\b([A-Za-z]\d[A-Za-z])\s?(\d[A-Za-z]\d)\s*$"),
}


def open311_status(status: CaseStatus | str) -> str:
    """Our five-state lifecycle as the spec's two: new/open/in_progress -> open, else closed."""
    return "open" if CaseStatus(status) in OPEN_STATUSES else "closed"


def statuses_for(open311: str) -> tuple[CaseStatus, ...]:
    """The lifecycle statuses behind one Open311 status (``open`` or ``closed``)."""
    if open311 == "open":
        return OPEN_STATUSES
    return (CaseStatus.RESOLVED, CaseStatus.CLOSED)


def zone_of(jurisdiction: Jurisdiction | None) -> dt.tzinfo:
    """The jurisdiction's timezone (UTC when it has none or an unknown one)."""
    try:
        return ZoneInfo(jurisdiction.timezone) if jurisdiction and jurisdiction.timezone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def iso_time(value: dt.datetime | None, zone: dt.tzinfo) -> str | None:
    """W3C/ISO-8601 with the zone's offset, to the second: ``2024-05-01T09:30:00-04:00``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).replace(microsecond=0).isoformat()


def zipcode_of(address: str, country: str) -> str:
    """The postal code at the end of an address, when one is written there."""
    pattern = _POSTAL_CODES.get((country or "").upper())
    match = pattern.search(address or "") if pattern else None
    if not match:
        return ""
    return " ".join(group.upper() for group in match.groups())


def service_notice(service: ServiceType | None) -> str:
    """What the resident can expect (the service type's target), worded as the POST's answer."""
    return filing.service_notice(service) if service is not None else ""


def public_request(
    case: Case,
    *,
    service: ServiceType | None,
    department: Department | None,
    extensions: bool = False,
    attributes: Mapping[str, ServiceAttribute] | None = None,
) -> dict[str, Any]:
    """One Open311 ``request``: no personal data, masked text, media only if staff published it.

    Times are in the case's jurisdiction's timezone; ``case.jurisdiction`` is read from the
    session's identity map when already loaded (no query per case). With ``extensions`` an
    ``extended_attributes`` object is added (the Open311 extension convention): the attribute
    answers (text masked), the channel, the request it duplicates when staff confirmed it,
    and the district; ``attributes`` are the service's attribute definitions by code (typed
    answers are published as they are, the rest masked).
    """
    jurisdiction = case.jurisdiction
    zone = zone_of(jurisdiction)
    country = jurisdiction.country if jurisdiction else "US"
    body: dict[str, Any] = {
        "service_request_id": case.tracking_number,
        "status": open311_status(case.status),
        "status_notes": _status_notes(case),
        "service_name": service.name if service else "",
        "service_code": service.code if service else "",
        "description": public_description(case, country),
        "agency_responsible": department.name if department else "",
        "service_notice": service_notice(service),
        "requested_datetime": iso_time(case.created_at, zone),
        "updated_datetime": iso_time(case.updated_at or case.created_at, zone),
        "expected_datetime": iso_time(case.due_at, zone),
        "address": mask_personal_data(case.address_text or "", country),
        "address_id": mask_personal_data(
            str((case.attributes or {}).get(filing.ADDRESS_ID_KEY) or ""), country
        ),
        "zipcode": zipcode_of(case.address_text or "", country),
        "lat": _coordinate(case.latitude),
        "long": _coordinate(case.longitude),
        "media_url": case.public_media_url or None,
    }
    if extensions:
        body["extended_attributes"] = {
            "channel": str(case.origin_channel),
            "district": case.district or "",
            "duplicate_of": _confirmed_duplicate_of(case),
            "attributes": public_attributes(case.attributes or {}, country, attributes),
        }
    return body


def public_description(case: Case, country: str = "US") -> str:
    """The case's description as published: only what was written to be public, masked.

    A request filed through Open311 was written by its client for a public API, and imported
    history is already open data; every other channel's description is the resident's own
    words to the city (a text, an email, what a call taker typed), names and flat numbers
    included, and is never published (``""``).
    """
    if case.origin_channel != Channel.OPEN311 and case.source_key is None:
        return ""
    return mask_personal_data(case.description or "", country)[:MAX_DESCRIPTION]


def _coordinate(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


RESERVED_PREFIX = "_"
"""``Case.attributes`` keys starting with this are ours, not answers (an attribute's code
cannot start with it): never published as answers."""


def public_attributes(
    answers: dict[str, Any],
    country: str = "US",
    definitions: Mapping[str, ServiceAttribute] | None = None,
) -> list[dict[str, Any]]:
    """Attribute answers as ``[{"code", "value"}]`` (a list value for a multivaluelist).

    With the service's ``definitions`` (by code), an answer typed when it was given (a
    number, a datetime, a list's keys) is published as it is; free text (string, text), and
    any answer whose attribute is unknown or no longer matches, is masked.
    """
    shown: list[dict[str, Any]] = []
    for code in sorted(answers):
        if str(code).startswith(RESERVED_PREFIX):
            continue
        value = answers[code]
        definition = definitions.get(code) if definitions else None
        if isinstance(value, list):
            shown.append(
                {"code": str(code), "value": [_answer(v, definition, country) for v in value]}
            )
        else:
            shown.append({"code": str(code), "value": _answer(value, definition, country)})
    return shown


def _answer(value: Any, definition: ServiceAttribute | None, country: str) -> str:
    text = "" if value is None else str(value)
    if definition is not None and _typed(value, definition):
        return text
    return mask_personal_data(text, country)


def _typed(value: Any, definition: ServiceAttribute) -> bool:
    """The stored answer is of its attribute's type, so it holds no free text to mask."""
    datatype = definition.datatype
    if datatype is AttributeDatatype.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if datatype is AttributeDatatype.DATETIME:
        return isinstance(value, str) and _STORED_DATETIME.fullmatch(value) is not None
    if datatype in (AttributeDatatype.SINGLEVALUELIST, AttributeDatatype.MULTIVALUELIST):
        return any(str(v.get("key")) == value for v in definition.values or [])
    return False


_STORED_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:[+-]\d{2}:\d{2}(?::\d{2})?|Z)?"
)
"""An answer as attributes.py stores a datetime (``datetime.isoformat()``)."""


def _status_notes(case: Case) -> str:
    if case.duplicate_status == DuplicateStatus.CONFIRMED and case.duplicate_of_id:
        return "Duplicate request."
    return STATUS_NOTES.get(CaseStatus(case.status), "")


def _confirmed_duplicate_of(case: Case) -> str:
    if case.duplicate_status != DuplicateStatus.CONFIRMED or case.duplicate_of_id is None:
        return ""
    original = case.duplicate_of
    return original.tracking_number if original is not None else ""


def public_service(service: ServiceType, *, has_attributes: bool) -> dict[str, Any]:
    """One entry of GET services."""
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description or "",
        "metadata": has_attributes,
        "type": service.open311_type or "realtime",
        "keywords": ", ".join(k for k in (service.keywords or []) if k),
        "group": service.group or "",
    }


def service_definition(
    service: ServiceType, attributes: Iterable[ServiceAttribute]
) -> dict[str, Any]:
    """GET service definition: the service's attributes in their display order."""
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": attribute.variable,
                "code": attribute.code,
                "datatype": str(attribute.datatype),
                "required": attribute.required,
                "datatype_description": attribute.datatype_description or "",
                "order": attribute.order,
                "description": attribute.description or "",
                "values": [
                    {"key": str(value.get("key", "")), "name": str(value.get("name", ""))}
                    for value in (attribute.values or [])
                ],
            }
            for attribute in sorted(attributes, key=lambda a: (a.order, a.code))
        ],
    }
