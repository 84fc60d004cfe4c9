"""One satisfaction survey per case, sent on the resident's channel when the case closes."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.cases.models import Case
from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.jurisdictions.models import CHANNEL_ENUM
from contactcenter.messages import Channel


class SurveyState(StrEnum):
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    """Not sent: the resident opted out, or the address cannot be written to."""


class Survey(Base):
    __tablename__ = "satisfaction_surveys"
    __table_args__ = (
        sa.Index("ix_satisfaction_surveys_channel_address_state", "channel", "address", "state"),
        sa.Index("ix_satisfaction_surveys_jurisdiction_sent", "jurisdiction_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"))
    channel: Mapped[Channel] = mapped_column(CHANNEL_ENUM)
    address: Mapped[str] = mapped_column(sa.String(320), default="")
    """The phone number or email address the survey went to (the chat's visitor id for chat)."""
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """Random; the email link and the chat's rating carry it."""
    state: Mapped[SurveyState] = mapped_column(str_enum(SurveyState), default=SurveyState.SENT)
    score: Mapped[int | None] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    interaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("interactions.id"))
    """The outbound message that asked (SMS, email)."""
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
