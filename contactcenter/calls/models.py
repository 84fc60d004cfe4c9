"""A call, and the IVR menus a jurisdiction's calls walk through.

Every call is also an :class:`~contactcenter.cases.models.Interaction` (its CallSid is the
idempotency key), so it shows on the resident's and the case's timeline like a text. The
:class:`Call` row holds what only a call has: the menu path, the queue wait, who answered, the
recording and how it ended. Performance figures (abandoned calls, waits) are read from here.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.cases.models import Interaction
from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.messages import Direction


class CallOutcome(StrEnum):
    IN_PROGRESS = "in_progress"
    SELF_SERVED = "self_served"
    """Heard a recorded answer or a request's status, and needed nothing more."""
    CASE_OPENED = "case_opened"
    INCIDENT_JOINED = "incident_joined"
    VOICEMAIL = "voicemail"
    IN_QUEUE = "in_queue"
    ANSWERED = "answered"
    """Talked to an agent."""
    ABANDONED = "abandoned"
    """Hung up while waiting in the queue: the figure supervisors watch."""
    CALLBACK_REQUESTED = "callback"
    HUNG_UP = "hung_up"
    """Left in the menu before anything else happened."""
    FAILED = "failed"
    """Never connected (busy, no answer, failed): outbound callbacks mostly."""


FINAL_OUTCOMES = frozenset(
    {
        CallOutcome.SELF_SERVED,
        CallOutcome.CASE_OPENED,
        CallOutcome.INCIDENT_JOINED,
        CallOutcome.VOICEMAIL,
        CallOutcome.ANSWERED,
        CallOutcome.ABANDONED,
        CallOutcome.CALLBACK_REQUESTED,
        CallOutcome.HUNG_UP,
        CallOutcome.FAILED,
    }
)


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_jurisdiction_created", "jurisdiction_id", "created_at"),
        # The expected wait a caller on hold hears reads each queue's recent talk times.
        sa.Index("ix_calls_queue_created", "queue_id", "created_at"),
        # The contact figures' periodic pass reads the calls changed since it last looked.
        sa.Index("ix_calls_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"), unique=True)
    call_sid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    parent_call_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calls.id"))
    """For an outbound callback: the call on which the resident asked for it."""
    menu_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ivr_menus.id"))
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    menu_path: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    outcome: Mapped[CallOutcome] = mapped_column(
        str_enum(CallOutcome), default=CallOutcome.IN_PROGRESS
    )
    status: Mapped[str] = mapped_column(sa.String(32), default="in-progress")
    """Twilio's last CallStatus (completed, busy, no-answer, failed, canceled, ...)."""
    draft: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    """What a caller reporting a problem has said so far (service type, description, place)."""
    queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queues.id"))
    work_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("work_items.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[int | None] = mapped_column()
    talk_seconds: Mapped[int | None] = mapped_column()
    duration_seconds: Mapped[int | None] = mapped_column()
    callback_number: Mapped[str] = mapped_column(sa.String(32), default="")
    callback_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    callback_attempts: Mapped[int] = mapped_column(default=0)
    recording_url: Mapped[str] = mapped_column(sa.String(500), default="")
    recording_sid: Mapped[str] = mapped_column(sa.String(64), default="", index=True)
    recording_seconds: Mapped[int | None] = mapped_column()
    transcription_status: Mapped[str] = mapped_column(sa.String(16), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    interaction: Mapped[Interaction] = relationship()


class IvrMenu(Base):
    """One version of a jurisdiction's IVR menu; the highest version is the live one.

    ``definition`` is the validated menu (see :mod:`ivr.flows`), ``source`` the file as it was
    uploaded, so what went live can always be read back exactly.
    """

    __tablename__ = "ivr_menus"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    version: Mapped[int] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    source: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
