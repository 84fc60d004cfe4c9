"""What Open311 adds to the case model: service attributes, client keys, batch submissions."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contactcenter.db import Base, UTCDateTime, str_enum, utcnow
from contactcenter.jurisdictions.models import ServiceType


class AttributeDatatype(StrEnum):
    """The six datatypes of GeoReport v2's service definitions."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


class ServiceAttribute(Base):
    """One question a service type asks (Open311 ``attribute``), e.g. "Is the sign down?"."""

    __tablename__ = "service_attributes"
    __table_args__ = (sa.UniqueConstraint("service_type_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_type_id: Mapped[int] = mapped_column(
        sa.ForeignKey("service_types.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(sa.String(64))
    order: Mapped[int] = mapped_column(default=1)
    variable: Mapped[bool] = mapped_column(default=True)
    """False: an informational line shown to the resident, not a question."""
    datatype: Mapped[AttributeDatatype] = mapped_column(str_enum(AttributeDatatype))
    required: Mapped[bool] = mapped_column(default=False)
    datatype_description: Mapped[str] = mapped_column(sa.Text, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    values: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    """For the list datatypes: [{"key": ..., "name": ...}, ...] in display order."""

    service_type: Mapped[ServiceType] = relationship()


class Open311Client(Base):
    """An application allowed to POST requests (a city app, FixMyStreet): one API key each.

    Only the key's SHA-256 is stored; ``key_prefix`` (its first characters) lets staff tell
    keys apart in lists without the key itself.
    """

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    contact_email: Mapped[str] = mapped_column(sa.String(320), default="")
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(sa.String(16))
    requests_per_minute: Mapped[int] = mapped_column(default=60)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SubmissionState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Open311Submission(Base):
    """A POSTed request of a ``batch`` service type: answered with ``token`` at once, turned
    into a case by a job; the token lookup then gives the case's id."""

    __tablename__ = "open311_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("open311_clients.id"))
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    state: Mapped[SubmissionState] = mapped_column(
        str_enum(SubmissionState), default=SubmissionState.PENDING
    )
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    error: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
