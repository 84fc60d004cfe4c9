"""A record of each bulk import, so an interrupted one resumes where it stopped."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from contactcenter.db import Base, UTCDateTime, str_enum, utcnow


class ImportState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportRun(Base):
    """One file being imported into one jurisdiction.

    ``byte_offset`` and ``rows_read`` are the last committed position: a resumed run starts
    there (rows already imported are skipped anyway, imports being idempotent on the source
    key). ``file_sha256`` ties the position to the file's content.
    """

    __tablename__ = "import_runs"
    __table_args__ = (
        sa.Index("ix_import_runs_jurisdiction_file", "jurisdiction_id", "file_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"))
    layout: Mapped[str] = mapped_column(sa.String(32))
    file_name: Mapped[str] = mapped_column(sa.String(500))
    file_sha256: Mapped[str] = mapped_column(sa.String(64))
    file_size: Mapped[int] = mapped_column(sa.BigInteger)
    state: Mapped[ImportState] = mapped_column(str_enum(ImportState), default=ImportState.RUNNING)
    byte_offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_already_present: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rejects_path: Mapped[str] = mapped_column(sa.String(1000), default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
