"""Looking up jurisdictions, and the service types they offer."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.jurisdictions.models import ChannelAddress, Department, ServiceType
from contactcenter.messages import Channel


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
