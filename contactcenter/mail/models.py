"""Raw inbound mail and the files residents attach."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column

from contactcenter.db import Base, UTCDateTime, str_enum, utcnow


class RawEmailState(StrEnum):
    PENDING = "pending"
    FILED = "filed"
    """Parsed and handed to intake: ``interaction_id`` says what it became."""
    DUPLICATE = "duplicate"
    """The same Message-ID was filed already (a sender's retry)."""
    BOUNCE = "bounce"
    """A delivery report: its failed addresses were marked undeliverable; no case."""
    IGNORED = "ignored"
    """A report that needs nothing (a read receipt, a delay notice)."""
    QUARANTINED = "quarantined"
    """Could not be processed: kept whole for an administrator (``error`` says why)."""


class RawEmail(Base):
    """One message exactly as it arrived, stored before anything else happens to it.

    Accepting mail only has to write this row; parsing, threading and intake run after, in a
    job with a time limit. A message that fails there is never lost: it stays here,
    quarantined, until an administrator retries or discards it.
    """

    __tablename__ = "raw_emails"
    __table_args__ = (sa.Index("ix_raw_emails_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    source: Mapped[str] = mapped_column(sa.String(16))
    """``smtp`` (our listener) or ``webhook`` (a hosted service's inbound parse)."""
    envelope_from: Mapped[str] = mapped_column(sa.String(320), default="")
    recipient: Mapped[str] = mapped_column(sa.String(320))
    """The jurisdiction's address it was delivered to (the envelope recipient)."""
    size: Mapped[int] = mapped_column(default=0)
    data: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary))
    text: Mapped[str] = deferred(
        mapped_column(sa.Text, default="", server_default="", nullable=False)
    )
    """The whole readable text, before quoted history and signature were trimmed from what
    agents see first (the interaction's body)."""
    state: Mapped[RawEmailState] = mapped_column(
        str_enum(RawEmailState), default=RawEmailState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    interaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("interactions.id"))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A file a resident sent. Served to staff only as a download, with the type we sniffed
    from its bytes (never the sender's claim), and never rendered inline."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    declared_type: Mapped[str] = mapped_column(sa.String(255), default="")
    content_type: Mapped[str] = mapped_column(sa.String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[bytes | None] = deferred(mapped_column(sa.LargeBinary))
    """Empty when the file was over the size limit: the row then records that it existed."""
    dropped_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
