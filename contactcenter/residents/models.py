"""Residents and the phone numbers, emails and chat ids that lead to them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.messages import ContactKind

CONTACT_KIND_ENUM = str_enum(ContactKind)


class Resident(Base):
    """One person as one jurisdiction knows them.

    Residents are per jurisdiction on purpose: in a shared regional center, one town's staff
    must never see what a person told another town.
    """

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    preferred_language: Mapped[str | None] = mapped_column(sa.String(8))
    sms_opted_out: Mapped[bool] = mapped_column(default=False)
    sms_opted_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    """Staff-set markers routing rules can use, e.g. "vulnerable", "language-line"."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"))
    """Set when staff merged this record into another: the old id still resolves to it."""

    contact_points: Mapped[list[ContactPoint]] = relationship(
        back_populates="resident", order_by="ContactPoint.id"
    )


class ContactPoint(Base):
    """A normalized address: E.164 phone, lower-cased email, or a chat visitor id.

    ``is_valid`` is false when the provider sent something we could not normalize (an
    alphanumeric sender id, a malformed number); it is then stored exactly as given.
    """

    __tablename__ = "contact_points"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "kind", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    kind: Mapped[ContactKind] = mapped_column(CONTACT_KIND_ENUM)
    address: Mapped[str] = mapped_column(sa.String(320))
    is_valid: Mapped[bool] = mapped_column(default=True)
    undeliverable_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """Set when mail to this address bounced for good: nothing more is sent to it."""
    undeliverable_reason: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    resident: Mapped[Resident] = relationship(back_populates="contact_points")


class ResidentMerge(Base):
    """Audit of one merge: who folded which record into which, and exactly what moved."""

    __tablename__ = "resident_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    kept_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    merged_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    moved: Mapped[dict[str, list[int]]] = mapped_column(sa.JSON, default=dict)
    """``{"contact_points": [...], "cases": [...], "interactions": [...]}``: ids moved."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
