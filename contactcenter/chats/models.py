"""A resident's web chat session."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.cases.models import Case
from contactcenter.db import Base, UTCDateTime, str_enum, utcnow


class ChatState(StrEnum):
    WAITING = "waiting"
    """Intake done, a case opened, waiting in a queue for an agent."""
    ACTIVE = "active"
    """An agent accepted the chat."""
    HANDED_OFF = "handed_off"
    """No agent in time (after hours, all busy): the case is answered later by SMS or email."""
    ENDED = "ended"


class ChatSession(Base):
    """One conversation in the website's chat widget.

    ``visitor_id`` is the chat's contact point (random, never shown to staff as personal
    data); the widget proves it owns the session with a signed token that carries it, so a
    reload continues the conversation.
    """

    __tablename__ = "chat_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    visitor_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    state: Mapped[ChatState] = mapped_column(str_enum(ChatState), default=ChatState.WAITING)
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    wait_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    """When a waiting chat is handed off if no agent has taken it."""
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str] = mapped_column(sa.String(16), default="")
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    """The phone number typed in this chat (normalized), if any: what hand-off notices promise."""
    email: Mapped[str | None] = mapped_column(sa.String(320))
    """The email typed in this chat (normalized), if any: the only address a transcript goes to
    (never another one the linked resident record holds: whoever types a phone number must
    not make the city write to that person's email)."""
    transcripts_sent: Mapped[int] = mapped_column(default=0, server_default="0")

    case: Mapped[Case | None] = relationship()
