"""Jurisdictions (tenants), the addresses they own, departments and service types."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.messages import Channel

CHANNEL_ENUM = str_enum(Channel)


class Jurisdiction(Base):
    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    country: Mapped[str] = mapped_column(sa.String(2), default="US")
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=lambda: ["en"])
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    routing_version: Mapped[int] = mapped_column(default=1, server_default="1")
    """Bumped whenever rules, queues, districts, calendars or SLA policies change, so each
    process knows when to rebuild its compiled routing context."""
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    """Duplicate and incident detection knobs; see :mod:`contactcenter.jurisdictions.settings`."""

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else "en"


class ChannelAddress(Base):
    """A phone number, email address or chat key that residents use to reach a jurisdiction."""

    __tablename__ = "channel_addresses"
    __table_args__ = (sa.UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    channel: Mapped[Channel] = mapped_column(CHANNEL_ENUM)
    address: Mapped[str] = mapped_column(sa.String(320))

    jurisdiction: Mapped[Jurisdiction] = relationship()


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    is_default: Mapped[bool] = mapped_column(default=False)
    """Receives cases no service type claims (usually the 3-1-1 center itself)."""
    head_email: Mapped[str] = mapped_column(sa.String(320), default="", server_default="")
    """Where the department's weekly performance summary is emailed (none when empty)."""


class ServiceType(Base):
    """An Open311 service: what a resident can ask for."""

    __tablename__ = "service_types"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    group: Mapped[str] = mapped_column(sa.String(100), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    keywords: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    target_days: Mapped[float | None] = mapped_column(sa.Float)
    active: Mapped[bool] = mapped_column(default=True)
    open311_type: Mapped[str] = mapped_column(
        sa.String(16), default="realtime", server_default="realtime"
    )
    """Open311's ``type``: ``realtime`` (a POST answers with the request's id), ``batch`` (it
    answers with a token, the request is made afterwards) or ``blackbox`` (no status kept)."""

    name_translations: Mapped[dict[str, str]] = mapped_column(
        sa.JSON, default=dict, server_default="{}"
    )
    """The name in other languages, e.g. {"fr": "Nid-de-poule"}: residents see it in replies."""

    department: Mapped[Department | None] = relationship()

    def localized_name(self, language: str) -> str:
        return (self.name_translations or {}).get(language) or self.name

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "group": self.group}
