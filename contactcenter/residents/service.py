"""Finding residents by any of their contact points, and their messaging preferences."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import ContactKind
from contactcenter.residents.addresses import normalize
from contactcenter.residents.models import ContactPoint, Resident


def find_or_create_resident(
    session: Session, jurisdiction: Jurisdiction, kind: ContactKind, raw_address: str
) -> tuple[Resident, ContactPoint]:
    """The resident behind ``raw_address`` in this jurisdiction, created on first contact."""
    normalized = normalize(kind, raw_address, jurisdiction.country)
    contact = session.scalars(
        sa.select(ContactPoint)
        .where(
            ContactPoint.jurisdiction_id == jurisdiction.id,
            ContactPoint.kind == kind,
            ContactPoint.address == normalized.address,
        )
        .options(sa.orm.joinedload(ContactPoint.resident))
    ).one_or_none()
    if contact is not None:
        return contact.resident, contact
    resident = Resident(jurisdiction_id=jurisdiction.id)
    contact = ContactPoint(
        jurisdiction_id=jurisdiction.id,
        resident=resident,
        kind=kind,
        address=normalized.address,
        is_valid=normalized.is_valid,
    )
    session.add_all([resident, contact])
    return resident, contact


def set_sms_opt_out(session: Session, resident: Resident, *, opted_out: bool) -> None:
    resident.sms_opted_out = opted_out
    resident.sms_opted_out_at = utcnow() if opted_out else None


def set_language(session: Session, resident: Resident, language: str) -> None:
    resident.preferred_language = language
