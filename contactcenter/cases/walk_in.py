"""Cases an agent records for a resident at the counter or on the phone.

The resident is found by the phone or email they give, exactly as their texts and emails find
them, so recording a walk-in never makes a second record of someone the city already knows.
Like every service it does not commit: the request does, once.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case
from contactcenter.cases.service import open_case
from contactcenter.errors import Forbidden, Invalid
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.jurisdictions.service import service_type_by_code
from contactcenter.messages import Channel, ContactKind
from contactcenter.residents.addresses import NormalizedAddress, normalize
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.residents.service import find_or_create_resident
from contactcenter.routing.service import route_case

CHANNELS = (Channel.WALK_IN, Channel.VOICE)
"""At the counter, or on the phone: the channels an agent records a case from."""
MAX_DESCRIPTION = 10000
MAX_ADDRESS = 500
MAX_NAME = 200
_NOUN = {ContactKind.PHONE: "phone number", ContactKind.EMAIL: "email address"}


def record_walk_in(
    session: Session,
    agent: Agent,
    jurisdiction: Jurisdiction,
    *,
    resident: Resident | None = None,
    phone: str | None = None,
    email: str | None = None,
    name: str | None = None,
    service_type: str,
    description: str,
    address: str,
    channel: Channel | str,
) -> Case:
    """Open and route a case the agent wrote down for a resident.

    ``resident`` is one the agent picked after searching; without one, ``phone`` and/or
    ``email`` find the resident (or make one, named ``name``). ``service_type`` is a code of
    one of the jurisdiction's active service types.

    :raises Forbidden: the agent does not work for ``jurisdiction``.
    :raises Invalid: anything the form should ask again for, with ``fields`` saying what.
    """
    if jurisdiction.id not in {j.id for j in agent.jurisdictions}:
        raise Forbidden("You do not work for that jurisdiction.", code="jurisdiction_forbidden")
    errors: dict[str, str] = {}
    chosen_channel = _channel(channel, errors)
    chosen_type = _service_type(session, jurisdiction, service_type, errors)
    text = description.strip()
    if not text:
        errors["description"] = "Write down what the resident reported."
    elif len(text) > MAX_DESCRIPTION:
        errors["description"] = f"At most {MAX_DESCRIPTION} characters."
    where = " ".join(address.split())
    if len(where) > MAX_ADDRESS:
        errors["address"] = f"At most {MAX_ADDRESS} characters."
    display_name = " ".join((name or "").split())
    if len(display_name) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    contacts = _contacts(jurisdiction, phone, email, errors) if resident is None else []
    if resident is not None and resident.jurisdiction_id != jurisdiction.id:
        errors["resident"] = "That resident is not on this jurisdiction's records."
    if errors or chosen_channel is None or chosen_type is None:
        raise Invalid("Check the form.", code="invalid_walk_in", fields=errors)
    if resident is None:
        resident = _resident_for(session, jurisdiction, contacts)
    if display_name and not resident.display_name:
        resident.display_name = display_name
    case = open_case(
        session,
        jurisdiction=jurisdiction,
        resident=resident,
        channel=chosen_channel,
        description=text,
        service_type=chosen_type,
        department=None,
        address_text=where,
        language=resident.preferred_language or jurisdiction.default_language,
        created_by=agent,
    )
    route_case(session, case)
    return case


def _channel(channel: Channel | str, errors: dict[str, str]) -> Channel | None:
    try:
        chosen = Channel(channel)
    except ValueError:
        chosen = None
    if chosen not in CHANNELS:
        errors["channel"] = "Choose walk-in or phone."
        return None
    return chosen


def _service_type(
    session: Session, jurisdiction: Jurisdiction, code: str, errors: dict[str, str]
) -> ServiceType | None:
    found = service_type_by_code(session, jurisdiction.id, code)
    if found is None:
        errors["service_type"] = "Choose one of the services offered."
    return found


def _contacts(
    jurisdiction: Jurisdiction, phone: str | None, email: str | None, errors: dict[str, str]
) -> list[NormalizedAddress]:
    """The phone and email given, normalized; each must be one intake could reach."""
    contacts: list[NormalizedAddress] = []
    for kind, raw in ((ContactKind.PHONE, phone), (ContactKind.EMAIL, email)):
        if raw and raw.strip():
            normalized = normalize(kind, raw, jurisdiction.country)
            if normalized.is_valid:
                contacts.append(normalized)
            else:
                errors[str(kind)] = f"That is not a {_NOUN[kind]} we can use."
    if not contacts and not errors.keys() & {"phone", "email"}:
        errors["phone"] = "Give the resident's phone or email, or pick a resident found."
    return contacts


def _resident_for(
    session: Session, jurisdiction: Jurisdiction, contacts: list[NormalizedAddress]
) -> Resident:
    """The one resident these contacts lead to (created if none), holding all of them.

    Two contacts of two different residents are refused rather than merged: merging people
    is a decision for staff, not a side effect of a form.
    """
    existing = session.scalars(
        sa.select(ContactPoint).where(
            ContactPoint.jurisdiction_id == jurisdiction.id,
            sa.or_(
                *(
                    sa.and_(ContactPoint.kind == c.kind, ContactPoint.address == c.address)
                    for c in contacts
                )
            ),
        )
    ).all()
    owners = {c.resident_id for c in existing}
    if len(owners) > 1:
        raise Invalid(
            "That phone and that email belong to two different residents: search for one "
            "and pick them.",
            code="contacts_conflict",
            fields={"phone": "belongs to another resident than the email"},
        )
    known = {(c.kind, c.address) for c in existing}
    first = next((c for c in contacts if (c.kind, c.address) in known), contacts[0])
    resident, _contact = find_or_create_resident(session, jurisdiction, first.kind, first.address)
    for contact in contacts:
        if (contact.kind, contact.address) not in known and contact is not first:
            session.add(
                ContactPoint(
                    jurisdiction_id=jurisdiction.id,
                    resident=resident,
                    kind=contact.kind,
                    address=contact.address,
                    is_valid=contact.is_valid,
                )
            )
    return resident
