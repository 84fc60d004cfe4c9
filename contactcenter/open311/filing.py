"""Filing an Open311 request: checking the POSTed fields and opening the case.

Shared by the realtime POST (:mod:`contactcenter.open311.submit`) and the batch job
(:mod:`contactcenter.open311.batch`), so a request reaches the same case whichever way it came:
opened on channel ``open311``, the resident found by the phone or email given (the same
records their texts, calls and emails find), routed like every other case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.cases.service import open_case
from contactcenter.db import utcnow
from contactcenter.errors import Invalid, NotFound
from contactcenter.i18n import supported
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.jurisdictions.service import service_type_by_code
from contactcenter.language import guess_language
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.open311.attributes import attributes_of, validate_answers
from contactcenter.open311.models import Open311Client
from contactcenter.residents.addresses import NormalizedAddress, normalize
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.residents.service import find_or_create_resident
from contactcenter.routing.service import route_case

FIELDS = (
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
)
"""The GeoReport v2 POST fields (besides ``api_key``, ``jurisdiction_id`` and attributes)."""
MAX_DESCRIPTION = 4000
"""The spec: a description is free text "limited to 4,000 characters"."""
ADDRESS_ID_KEY = "_address_id"
"""Where a POSTed address_id is kept in ``Case.attributes``: an attribute code cannot start
with ``_``, so it is never taken for (or published as) an answer."""
MAX_ADDRESS = 500
MAX_ID = 200
MAX_NAME = 100
MAX_CONTACT = 320
MAX_MEDIA_URL = 1000
_COORDINATE = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{1,20})?")
"""Decimal degrees in ASCII digits (float() would also take "4_5", full-width digits, "1e1")."""
_URL = re.compile(r"^https?://[^\s/]+\S*$", re.IGNORECASE)
_NOUN = {ContactKind.PHONE: "phone number", ContactKind.EMAIL: "email address"}


@dataclass(frozen=True)
class ValidRequest:
    """A POST's fields, checked and normalized."""

    service_type: ServiceType
    description: str
    latitude: float | None
    longitude: float | None
    address_text: str
    address_id: str
    contacts: tuple[NormalizedAddress, ...]
    display_name: str
    device_id: str
    account_id: str
    media_url: str
    answers: dict[str, Any] = field(default_factory=dict)


def service_type_for(session: Session, jurisdiction: Jurisdiction, code: str | None) -> ServiceType:
    """:raises Invalid: no code; :raises NotFound: no active service type with it."""
    code = (code or "").strip()
    if not code:
        raise Invalid(
            "service_code is required.",
            code="service_code_required",
            fields={"service_code": "required"},
        )
    found = service_type_by_code(session, jurisdiction.id, code)
    if found is None:
        raise NotFound(f"No service {code[:64]!r} here.", code="service_not_found")
    return found


def validate_request(
    session: Session,
    jurisdiction: Jurisdiction,
    fields: Mapping[str, str],
    attributes: Mapping[str, list[str]],
) -> ValidRequest:
    """The POST's fields checked against the spec and the service's attributes.

    :raises NotFound: an unknown service_code.
    :raises Invalid: everything else, every problem at once in ``fields``.
    """
    service_type = service_type_for(session, jurisdiction, fields.get("service_code"))
    errors: dict[str, str] = {}
    text = {name: (fields.get(name) or "").strip() for name in FIELDS}
    for name, value in text.items():
        if "\x00" in value:
            errors[name] = "Must not contain NUL characters."
            text[name] = ""
    latitude, longitude = _coordinates(text["lat"], text["long"], errors)
    address = " ".join(text["address_string"].split())
    _bounded(errors, "address_string", address, MAX_ADDRESS)
    _bounded(errors, "address_id", text["address_id"], MAX_ID)
    if (
        latitude is None
        and not address
        and not text["address_id"]
        and not errors.keys()
        & {
            "lat",
            "long",
        }
    ):
        errors["lat"] = "Give the location: lat and long, address_string or address_id."
    _bounded(errors, "description", text["description"], MAX_DESCRIPTION)
    for name in ("first_name", "last_name"):
        _bounded(errors, name, text[name], MAX_NAME)
    for name in ("device_id", "account_id"):
        _bounded(errors, name, text[name], MAX_ID)
    media_url = text["media_url"]
    if media_url and (len(media_url) > MAX_MEDIA_URL or not _URL.match(media_url)):
        errors["media_url"] = f"An http(s) URL of at most {MAX_MEDIA_URL} characters."
    contacts = _contacts(jurisdiction, text["phone"], text["email"], errors)
    answers: dict[str, Any] = {}
    try:
        definitions = attributes_of(session, [service_type.id])[service_type.id]
        answers = validate_answers(definitions, attributes, timezone=jurisdiction.timezone)
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(_first_problem(errors), code="invalid_request", fields=errors)
    return ValidRequest(
        service_type=service_type,
        description=text["description"],
        latitude=latitude,
        longitude=longitude,
        address_text=address,
        address_id=text["address_id"],
        contacts=tuple(contacts),
        display_name=" ".join(f"{text['first_name']} {text['last_name']}".split()),
        device_id=text["device_id"],
        account_id=text["account_id"],
        media_url=media_url,
        answers=answers,
    )


def _first_problem(errors: dict[str, str]) -> str:
    """One line for Open311's error ``description``: the first field and what is wrong."""
    name, problem = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{name}: {problem}{more}"


def _bounded(errors: dict[str, str], name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors[name] = f"At most {limit} characters."


def _coordinates(lat: str, long: str, errors: dict[str, str]) -> tuple[float | None, float | None]:
    if not lat and not long:
        return None, None
    if not lat or not long:
        errors["lat" if not lat else "long"] = "Give both lat and long, or neither."
        return None, None
    values: list[float] = []
    for name, raw, limit in (("lat", lat, 90.0), ("long", long, 180.0)):
        value = float(raw) if _COORDINATE.fullmatch(raw) else math.nan
        if not math.isfinite(value) or not -limit <= value <= limit:
            errors[name] = f"A number from -{limit:g} to {limit:g} (WGS84 degrees)."
        values.append(value)
    if errors.keys() & {"lat", "long"}:
        return None, None
    return values[0], values[1]


def _contacts(
    jurisdiction: Jurisdiction, phone: str, email: str, errors: dict[str, str]
) -> list[NormalizedAddress]:
    """The phone and email given, normalized as every channel does (the city's country)."""
    found: list[NormalizedAddress] = []
    for kind, raw in ((ContactKind.PHONE, phone), (ContactKind.EMAIL, email)):
        if not raw:
            continue
        normalized = normalize(kind, raw, jurisdiction.country) if len(raw) <= MAX_CONTACT else None
        if normalized is None or not normalized.is_valid:
            errors[str(kind)] = f"That is not a {_NOUN[kind]} we can use."
        else:
            found.append(normalized)
    return found


@dataclass(frozen=True)
class LinkedResident:
    """The resident a request's contacts lead to, and whether this request created them."""

    resident: Resident
    created: bool


def resident_for(
    session: Session, jurisdiction: Jurisdiction, contacts: tuple[NormalizedAddress, ...]
) -> LinkedResident | None:
    """The resident these contacts lead to (created on first contact), or None without any.

    A client's word is enough to file a request, not to change who the city knows: a
    resident already on the records (found by the phone or the email given) gets no new
    contact point and no new name from a POST, or anyone holding a key could attach their
    own email to a neighbour's phone and read that neighbour's notifications, or rename
    them. The first contact already known decides; a phone and an email known as two
    different people are not merged (that is a decision for staff): the phone's owner is
    taken. Only a resident this request creates gets every contact given (and the name).
    The client is told nothing of it, so a POST cannot probe who is on the city's records.

    Two requests of one new resident at once (an app retrying, two apps) meet at the contact
    points' unique constraint: the loser's savepoint rolls back and it finds the winner's.
    """
    if not contacts:
        return None
    try:
        with session.begin_nested():
            return _linked_resident(session, jurisdiction, contacts)
    except IntegrityError:
        with session.begin_nested():
            return _linked_resident(session, jurisdiction, contacts)


def _linked_resident(
    session: Session, jurisdiction: Jurisdiction, contacts: tuple[NormalizedAddress, ...]
) -> LinkedResident:
    known = {
        (kind, address): resident_id
        for kind, address, resident_id in session.execute(
            sa.select(ContactPoint.kind, ContactPoint.address, ContactPoint.resident_id).where(
                ContactPoint.jurisdiction_id == jurisdiction.id,
                sa.or_(
                    *(
                        sa.and_(ContactPoint.kind == c.kind, ContactPoint.address == c.address)
                        for c in contacts
                    )
                ),
            )
        )
    }
    if known:
        # contacts are (phone, email) in that order: the phone's owner wins a conflict.
        first = next(c for c in contacts if (c.kind, c.address) in known)
        resident = session.get_one(Resident, known[(first.kind, first.address)])
        return LinkedResident(resident, created=False)
    resident, _contact = find_or_create_resident(
        session, jurisdiction, contacts[0].kind, contacts[0].address
    )
    for other in contacts[1:]:
        session.add(
            ContactPoint(
                jurisdiction_id=jurisdiction.id,
                resident=resident,
                kind=other.kind,
                address=other.address,
                is_valid=other.is_valid,
            )
        )
    session.flush()
    return LinkedResident(resident, created=True)


def open_request(
    session: Session,
    jurisdiction: Jurisdiction,
    client: Open311Client | None,
    request: ValidRequest,
) -> Case:
    """Open, route and record the case for a checked request (does not commit)."""
    linked = resident_for(session, jurisdiction, request.contacts)
    resident = linked.resident if linked is not None else None
    if linked is not None and linked.created and request.display_name:
        linked.resident.display_name = request.display_name
    # As the inbox does: the case, its events and its message reach the database in one
    # flush at the commit, not a round trip each time a routing query would autoflush.
    with session.no_autoflush:
        return _open(session, jurisdiction, client, request, resident)


def _open(
    session: Session,
    jurisdiction: Jurisdiction,
    client: Open311Client | None,
    request: ValidRequest,
    resident: Resident | None,
) -> Case:
    case = open_case(
        session,
        jurisdiction=jurisdiction,
        resident=resident,
        channel=Channel.OPEN311,
        description=request.description,
        service_type=request.service_type,
        department=None,
        address_text=request.address_text,
        latitude=request.latitude,
        longitude=request.longitude,
        language=_language(jurisdiction, resident, request.description),
    )
    case.attributes = dict(request.answers)
    if request.address_id:
        case.attributes[ADDRESS_ID_KEY] = request.address_id
    now = utcnow()
    client_name = client.name if client is not None else "unknown client"
    session.add(
        Interaction(
            jurisdiction_id=jurisdiction.id,
            case=case,
            resident=resident,
            channel=Channel.OPEN311,
            direction=Direction.INBOUND,
            provider_id=None,
            from_address=f"open311:{client_name}"[:320],
            to_address=jurisdiction.slug,
            body=request.description,
            # Kept for staff; nothing a client sends is published (see Case.public_media_url).
            media_urls=[request.media_url] if request.media_url else [],
            delivery_status=DeliveryStatus.RECEIVED,
            latitude=request.latitude,
            longitude=request.longitude,
            created_at=now,
            updated_at=now,
            processed_at=now,
        )
    )
    # What the client said about itself: for staff (the audit trail), never published.
    record_event(
        session,
        case,
        "open311_received",
        actor="resident",
        client_id=client.id if client is not None else None,
        client=client_name,
        device_id=request.device_id or None,
        account_id=request.account_id or None,
        address_id=request.address_id or None,
    )
    route_case(session, case)
    return case


def _language(jurisdiction: Jurisdiction, resident: Resident | None, description: str) -> str:
    """As every channel does: the resident's choice, else the language they write in."""
    if resident is not None and resident.preferred_language:
        return resident.preferred_language
    guessed = guess_language(description, jurisdiction.languages) if description else None
    if guessed and supported(guessed):
        return guessed
    return jurisdiction.default_language


def service_notice(service_type: ServiceType, language: str = "en") -> str:
    """What the client may show the resident: when to expect an answer."""
    days = service_type.target_days
    if not days:
        return ""
    if days < 1:
        hours = max(1, round(days * 24))
        return f"Expected response within {hours} hour{'s' if hours != 1 else ''}."
    whole = round(days) if float(days).is_integer() else days
    return f"Expected response within {whole:g} day{'s' if whole != 1 else ''}."
