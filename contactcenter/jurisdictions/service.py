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


MAX_CODE = 64
"""The longest service type code (the column's length)."""


def service_type_by_code(
    session: Session, jurisdiction_id: int, code: str, *, active_only: bool = True
) -> ServiceType | None:
    """The jurisdiction's service type ``code`` (only an active one unless told otherwise).

    A code that cannot be one (too long, or holding NUL, which PostgreSQL refuses even in a
    query) finds nothing without asking the database."""
    if not code or len(code) > MAX_CODE or "\x00" in code:
        return None
    query = sa.select(ServiceType).where(
        ServiceType.jurisdiction_id == jurisdiction_id, ServiceType.code == code
    )
    if active_only:
        query = query.where(ServiceType.active.is_(True))
    return session.scalars(query).one_or_none()


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
