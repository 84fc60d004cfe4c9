"""Business-hours calendars, SLA policies, and the SLA clock each routed case carries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.cases.models import Case
from contactcenter.db import Base, UTCDateTime, utcnow


class CalendarRecord(Base):
    """A stored calendar; ``config`` is what :meth:`BusinessCalendar.from_config` reads."""

    __tablename__ = "business_calendars"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class SlaPolicy(Base):
    """Targets in business minutes, counted on ``calendar`` (around the clock when empty)."""

    __tablename__ = "sla_policies"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(200))
    calendar_id: Mapped[int | None] = mapped_column(sa.ForeignKey("business_calendars.id"))
    first_response_minutes: Mapped[int | None] = mapped_column()
    resolution_minutes: Mapped[int | None] = mapped_column()
    warn_percent: Mapped[int] = mapped_column(default=80)
    """A warning is raised when this share of a target has elapsed."""
    escalate_queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queues.id"))
    escalate_priority: Mapped[str | None] = mapped_column(sa.String(16))
    is_default: Mapped[bool] = mapped_column(default=False)

    calendar: Mapped[CalendarRecord | None] = relationship()


class CaseClock(Base):
    """A case's SLA clock: due times, what was warned and breached, and any pause.

    ``next_check_at`` is the earliest instant something can happen (a warning or a breach),
    so the periodic check reads only the clocks that are due, however many cases are open.
    """

    __tablename__ = "case_clocks"

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("sla_policies.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_response_warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_warn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """Set while the case is resolved or closed; a reopen resumes the clock."""
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    """Set while the case waits on the resident."""
    warned: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    breached: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    next_check_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)

    policy: Mapped[SlaPolicy] = relationship()
    case: Mapped[Case] = relationship()
