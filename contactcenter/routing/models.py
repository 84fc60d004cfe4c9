"""Queues, rule sets, districts, and the work that waits for an agent.

A :class:`WorkItem` is one piece of work that needs a person (a case awaiting its first
response, a live call, a chat). It waits in a queue, is *offered* to one agent at a time
(an :class:`Offer` is the reservation), and is assigned when that agent accepts. Two partial
unique indexes make the guarantees the database's job rather than the code's: a work item has
at most one pending offer, and a case has at most one live work item of each kind.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case
from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.jurisdictions.models import CHANNEL_ENUM, Department
from contactcenter.messages import Channel


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    LEAST_BUSY = "least_busy"
    ROUND_ROBIN = "round_robin"


agent_queues = sa.Table(
    "agent_queues",
    Base.metadata,
    sa.Column("agent_id", sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("queue_id", sa.ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
)


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    strategy: Mapped[Strategy] = mapped_column(str_enum(Strategy), default=Strategy.LONGEST_IDLE)
    offer_timeout_seconds: Mapped[int] = mapped_column(default=60)
    is_default: Mapped[bool] = mapped_column(default=False)
    """Receives work no rule sends elsewhere."""
    is_supervisor: Mapped[bool] = mapped_column(default=False)
    """Receives escalations (SLA breaches, the last target of a rule)."""
    last_agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    """Round robin's cursor: the agent offered last."""
    service_targets: Mapped[dict[str, dict[str, int]]] = mapped_column(
        sa.JSON, default=dict, server_default="{}"
    )
    """Service-level targets by channel, ``{"voice": {"seconds": 20, "percent": 80}}``; a
    channel not named here has the default of :mod:`contactcenter.performance.targets`."""

    department: Mapped[Department | None] = relationship()
    agents: Mapped[list[Agent]] = relationship(secondary=agent_queues, order_by=Agent.id)


class RuleSet(Base):
    """One saved version of a jurisdiction's routing rules; the newest version is in force.

    Versions are never edited, so a routed case's ``routing_rule`` always means what it
    meant when it was recorded.
    """

    __tablename__ = "routing_rule_sets"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    version: Mapped[int] = mapped_column()
    source: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    saved_by_agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class District(Base):
    """A district, ward or zone polygon, imported from GeoJSON (coordinates [lon, lat])."""

    __tablename__ = "districts"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    layer: Mapped[str] = mapped_column(sa.String(32), default="district")
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    min_lon: Mapped[float] = mapped_column(sa.Float)
    min_lat: Mapped[float] = mapped_column(sa.Float)
    max_lon: Mapped[float] = mapped_column(sa.Float)
    max_lat: Mapped[float] = mapped_column(sa.Float)


class WorkKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    CALL = "call"
    CHAT = "chat"
    ESCALATION = "escalation"


class WorkState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


LIVE_WORK_STATES = (WorkState.WAITING, WorkState.OFFERED, WorkState.ASSIGNED)

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


class WorkItem(Base):
    __tablename__ = "work_items"
    __table_args__ = (
        sa.Index("ix_work_items_queue_order", "jurisdiction_id", "state", "priority", "created_at"),
        sa.Index("ix_work_items_agent_state", "agent_id", "state"),
        sa.Index("ix_work_items_updated", "updated_at"),
        sa.Index("ix_work_items_jurisdiction_created", "jurisdiction_id", "created_at"),
        sa.Index("ix_work_items_agent_assigned", "agent_id", "assigned_at"),
        sa.Index(
            "uq_work_items_live_case_kind",
            "case_id",
            "kind",
            unique=True,
            postgresql_where=sa.text("state IN ('waiting', 'offered', 'assigned')"),
            sqlite_where=sa.text("state IN ('waiting', 'offered', 'assigned')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    kind: Mapped[WorkKind] = mapped_column(str_enum(WorkKind))
    channel: Mapped[Channel] = mapped_column(CHANNEL_ENUM)
    queue_id: Mapped[int] = mapped_column(sa.ForeignKey("queues.id"))
    priority: Mapped[int] = mapped_column(default=1)
    """0 low .. 3 urgent: higher first, then oldest first."""
    required_skills: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    targets: Mapped[list[list[Any]]] = mapped_column(sa.JSON, default=list)
    """Ordered [queue_id, timeout_seconds | None] pairs; ``target_index`` is the current one."""
    target_index: Mapped[int] = mapped_column(default=0)
    target_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    target_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    state: Mapped[WorkState] = mapped_column(str_enum(WorkState), default=WorkState.WAITING)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When an agent first took the work: a transfer sets ``assigned_at`` again, but the
    resident was answered then (speed of answer, service level and abandons read this)."""
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, server_default=sa.func.current_timestamp()
    )
    """Set by every change, bulk ``UPDATE`` statements included (``onupdate``): the contact
    figures recompute the intervals of the work that changed since they last looked."""
    transfers: Mapped[int] = mapped_column(default=0, server_default="0")
    """How many times the work was transferred to another queue or agent."""
    resolved_on_contact: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    """The case was resolved when the agent completed this work, without a transfer (first-
    contact resolution); cleared if the case is reopened."""

    queue: Mapped[Queue] = relationship()
    agent: Mapped[Agent | None] = relationship()
    case: Mapped[Case | None] = relationship()


class OfferState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


class Offer(Base):
    """A reservation: one work item offered to one agent until it is answered or expires."""

    __tablename__ = "offers"
    __table_args__ = (
        sa.Index("ix_offers_agent_state", "agent_id", "state"),
        sa.Index("ix_offers_agent_created", "agent_id", "created_at"),
        sa.Index("ix_offers_state_expires", "state", "expires_at"),
        sa.Index(
            "uq_offers_pending_work_item",
            "work_item_id",
            unique=True,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    work_item_id: Mapped[int] = mapped_column(sa.ForeignKey("work_items.id"), index=True)
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id"))
    state: Mapped[OfferState] = mapped_column(str_enum(OfferState), default=OfferState.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    work_item: Mapped[WorkItem] = relationship()
    agent: Mapped[Agent] = relationship()
