"""Looking up jurisdictions, and the service types they offer."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.errors import NotFound
from contactcenter.jurisdictions.models import ChannelAddress, Department, Jurisdiction, ServiceType
from contactcenter.messages import CONTACT_KIND_OF_CHANNEL, Channel, ContactKind
from contactcenter.residents.addresses import normalize


def jurisdiction_for_address(session: Session, channel: Channel, address: str) -> Jurisdiction:
    """The jurisdiction that owns ``address`` on ``channel`` (the number a resident texted).

    :raises NotFound: no jurisdiction here owns that address.
    """
    kind = CONTACT_KIND_OF_CHANNEL.get(channel, ContactKind.CHAT)
    # Owned addresses are stored normalized; the region only matters for national formats.
    normalized = normalize(kind, address, "US").address
    found = session.scalars(
        sa.select(ChannelAddress)
        .where(ChannelAddress.channel == channel, ChannelAddress.address == normalized)
        .options(sa.orm.joinedload(ChannelAddress.jurisdiction))
    ).one_or_none()
    if found is None:
        raise NotFound(
            f"No jurisdiction answers {channel} at {address!r}.", code="unknown_destination"
        )
    return found.jurisdiction


def active_service_types(session: Session, jurisdiction_id: int) -> Sequence[ServiceType]:
    return session.scalars(
        sa.select(ServiceType)
        .where(ServiceType.jurisdiction_id == jurisdiction_id, ServiceType.active.is_(True))
        .options(sa.orm.joinedload(ServiceType.department))
        .order_by(ServiceType.id)
    ).all()


def default_department(session: Session, jurisdiction_id: int) -> Department | None:
    return session.scalars(
        sa.select(Department).where(
            Department.jurisdiction_id == jurisdiction_id, Department.is_default.is_(True)
        )
    ).first()


def owned_address(session: Session, jurisdiction_id: int, channel: Channel) -> str | None:
    """The jurisdiction's first address on ``channel``: where its messages come from."""
    return session.scalars(
        sa.select(ChannelAddress.address)
        .where(ChannelAddress.jurisdiction_id == jurisdiction_id, ChannelAddress.channel == channel)
        .order_by(ChannelAddress.id)
    ).first()
