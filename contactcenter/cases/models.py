"""The unified case model: a case, every interaction on any channel, and its audit trail."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.agents.models import Agent
from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.jurisdictions.models import CHANNEL_ENUM, Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel, Direction
from contactcenter.residents.models import Resident


class CaseStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.IN_PROGRESS)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Awaiting(StrEnum):
    """What the guided conversation still needs from the resident."""

    LOCATION = "location"
    REPLY = "reply"
    """An agent asked the resident something; the SLA clock pauses until they answer."""


class DuplicateStatus(StrEnum):
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        sa.UniqueConstraint("jurisdiction_id", "tracking_number"),
        sa.Index("ix_cases_resident_channel_status", "resident_id", "origin_channel", "status"),
        sa.Index("ix_cases_jurisdiction_status_created", "jurisdiction_id", "status", "created_at"),
        sa.Index("ix_cases_jurisdiction_created", "jurisdiction_id", "created_at"),
        sa.UniqueConstraint("jurisdiction_id", "source_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    tracking_number: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.NEW)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority), default=Priority.NORMAL)
    service_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_types.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    assigned_agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"))
    origin_channel: Mapped[Channel] = mapped_column(CHANNEL_ENUM)
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    address_text: Mapped[str] = mapped_column(sa.String(500), default="")
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    awaiting: Mapped[Awaiting | None] = mapped_column(str_enum(Awaiting))
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    routing_rule: Mapped[str | None] = mapped_column(sa.String(200))
    """The rule that decided where the case went ("default" when none matched)."""
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    duplicate_status: Mapped[DuplicateStatus | None] = mapped_column(str_enum(DuplicateStatus))
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incidents.id"), index=True)
    district: Mapped[str | None] = mapped_column(sa.String(64))
    """The district the case's location fell in when it was routed (the first, by code), or
    the imported source's district (New York's borough); public figures are broken down by it."""
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    """Answers to the service type's Open311 attributes: {attribute code: value or [values]}."""
    source_key: Mapped[str | None] = mapped_column(sa.String(64))
    """The key of the imported record this case came from (New York's "Unique Key"); imports
    are idempotent on it. Empty for cases this system opened."""
    public_media_url: Mapped[str | None] = mapped_column(sa.String(1000))
    """A photo or file staff chose to publish with the request (Open311 ``media_url``).
    Nothing a resident sent is public until staff put it here."""
    reopened_count: Mapped[int] = mapped_column(default=0, server_default="0")
    """How many times the case went from resolved or closed back to open."""
    sla_breached: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """A target of the case's SLA clock was breached (kept when the clock stops)."""
    satisfaction: Mapped[int | None] = mapped_column(sa.SmallInteger)
    """The resident's answer to the satisfaction survey, 1 (poor) to 5 (great)."""

    jurisdiction: Mapped[Jurisdiction] = relationship()
    service_type: Mapped[ServiceType | None] = relationship()
    department: Mapped[Department | None] = relationship()
    assigned_agent: Mapped[Agent | None] = relationship()
    resident: Mapped[Resident | None] = relationship()
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Interaction(Base):
    """One message or call, on any channel, to or from a resident.

    ``(channel, provider_id)`` is unique: the same Twilio MessageSid or email Message-ID can
    never be recorded twice. ``case_id`` is empty for messages that are about no case
    (STOP, HELP, a status query). An inbound message is stored first and processed after
    (see :mod:`contactcenter.inbox`); ``processed_at`` is empty until then.
    """

    __tablename__ = "interactions"
    __table_args__ = (
        sa.UniqueConstraint("channel", "provider_id"),
        sa.Index("ix_interactions_case_created", "case_id", "created_at"),
        sa.Index("ix_interactions_jurisdiction_created", "jurisdiction_id", "created_at"),
        sa.Index("ix_interactions_direction_processed", "direction", "processed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    channel: Mapped[Channel] = mapped_column(CHANNEL_ENUM)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    provider_id: Mapped[str | None] = mapped_column(sa.String(128))
    from_address: Mapped[str] = mapped_column(sa.String(320), default="")
    to_address: Mapped[str] = mapped_column(sa.String(320), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    media_urls: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    delivery_status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus))
    error_code: Mapped[str] = mapped_column(sa.String(64), default="")
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str] = mapped_column(sa.String(998), default="", server_default="")
    thread_refs: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    """See :attr:`contactcenter.messages.InboundMessage.thread_refs` (outbound: oldest first)."""
    automated: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    case: Mapped[Case | None] = relationship()
    resident: Mapped[Resident | None] = relationship()


class CaseEvent(Base):
    """Append-only audit trail: who changed what on a case, and when."""

    __tablename__ = "case_events"
    __table_args__ = (
        sa.Index("ix_case_events_jurisdiction_created", "jurisdiction_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor_agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    actor: Mapped[str] = mapped_column(sa.String(32), default="system")
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()


class IncidentStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"


class Incident(Base):
    """A burst of similar cases in one area: one water main break, reported forty times."""

    __tablename__ = "incidents"
    __table_args__ = (sa.Index("ix_incidents_jurisdiction_status", "jurisdiction_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    service_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_types.id"))
    status: Mapped[IncidentStatus] = mapped_column(
        str_enum(IncidentStatus), default=IncidentStatus.ACTIVE
    )
    latitude: Mapped[float] = mapped_column(sa.Float)
    longitude: Mapped[float] = mapped_column(sa.Float)
    radius_m: Mapped[float] = mapped_column(sa.Float)
    case_count: Mapped[int] = mapped_column(default=0)
    announcement: Mapped[str] = mapped_column(sa.Text, default="")
    """What the IVR and replies may say about it; staff edit it."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    service_type: Mapped[ServiceType | None] = relationship()


# The public figures follow every change to a case through session events. Importing the
# module that installs them here, where the case model is defined, gives them to every
# process that can write a case (web, workers, commands, scripts without the app factory).
import contactcenter.performance.rollup  # noqa: E402, F401
