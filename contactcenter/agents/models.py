"""Staff users (agents, supervisors, admins) and their API tokens."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.jurisdictions.models import Department, Jurisdiction


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


agent_jurisdictions = sa.Table(
    "agent_jurisdictions",
    Base.metadata,
    sa.Column("agent_id", sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("jurisdiction_id", sa.ForeignKey("jurisdictions.id"), primary_key=True),
)

agent_departments = sa.Table(
    "agent_departments",
    Base.metadata,
    sa.Column("agent_id", sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("department_id", sa.ForeignKey("departments.id"), primary_key=True),
)


class Presence(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


DEFAULT_CAPACITY: dict[str, int] = {
    "voice": 1,
    "webchat": 3,
    "sms": 10,
    "email": 10,
    "walk_in": 1,
    "open311": 10,
}
"""How many pieces of work of each channel an agent handles at once, unless set otherwise."""


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(300), default="")
    role: Mapped[Role] = mapped_column(
        str_enum(Role),
        default=Role.AGENT,
    )
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=lambda: ["en"])
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    skills: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    capacity: Mapped[dict[str, int]] = mapped_column(
        sa.JSON, default=lambda: dict(DEFAULT_CAPACITY), server_default="{}"
    )
    presence: Mapped[Presence] = mapped_column(
        str_enum(Presence),
        default=Presence.OFFLINE,
        server_default=Presence.OFFLINE.value,
    )
    presence_changed_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=sa.func.current_timestamp()
    )
    last_assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """When the agent last took on work: "longest idle" offers to the agent idle the longest."""
    phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    """The agent's own phone (E.164), rung instead of the browser when ``voice_device`` says so."""
    voice_device: Mapped[str] = mapped_column(
        sa.String(16), default="browser", server_default="browser"
    )
    """Where calls ring: "browser" (Twilio Client) or "phone" (``phone``)."""
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    """Console sign-ins failed in a row; five lock the account for a while (password guessing)."""
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    """Bumped at sign-out: every console cookie issued before it stops working, copies too."""

    jurisdictions: Mapped[list[Jurisdiction]] = relationship(secondary=agent_jurisdictions)
    departments: Mapped[list[Department]] = relationship(secondary=agent_departments)

    @validates("email")
    def _normalize_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    def has_role(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    def capacity_for(self, channel: str) -> int:
        return int((self.capacity or {}).get(channel, DEFAULT_CAPACITY.get(channel, 1)))

    @property
    def idle_since(self) -> dt.datetime:
        """Since when the agent has had no new work while available."""
        if self.last_assigned_at is None:
            return self.presence_changed_at
        return max(self.last_assigned_at, self.presence_changed_at)


class ApiToken(Base):
    """A bearer token for the staff API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        sa.ForeignKey("agents.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    agent: Mapped[Agent] = relationship()


class PresenceChange(Base):
    """Every presence change, kept for occupancy and adherence reports."""

    __tablename__ = "agent_presence_changes"
    __table_args__ = (
        sa.Index("ix_agent_presence_changes_agent_created", "agent_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id", ondelete="CASCADE"))
    presence: Mapped[str] = mapped_column(sa.String(16))
    previous: Mapped[str] = mapped_column(sa.String(16))
    changed_by_agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
