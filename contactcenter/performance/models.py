"""The pre-aggregated figures behind the public performance pages.

Both tables hold sums, never cases: a row is what a jurisdiction's cases contributed on one
local day (or month), so reading a year of figures reads a few thousand small rows whatever
the number of cases. :mod:`contactcenter.performance.rollup` keeps them current and can
recompute them from the cases.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from contactcenter.db import Base, UTCDateTime


class DailyCount(Base):
    """Counts of one jurisdiction's cases on one local day, for one value of one dimension.

    ``dimension`` is ``all`` (``value`` empty), ``service_type`` (``value`` the service type's
    id, empty for none), ``channel`` (the channel) or ``district`` (empty for none): one
    dimension at a time, never their cross product, which would not shrink anything.
    ``opened`` counts cases created that day; ``closed``, ``closed_with_target`` (closed with a
    due date) and ``closed_on_time`` (no later than it) count cases whose resolution fell on
    that day; ``open_now`` counts cases created that day that are open now (the backlog).
    """

    __tablename__ = "performance_daily"

    jurisdiction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jurisdictions.id"), primary_key=True
    )
    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    opened: Mapped[int] = mapped_column(default=0)
    closed: Mapped[int] = mapped_column(default=0)
    closed_with_target: Mapped[int] = mapped_column(default=0)
    closed_on_time: Mapped[int] = mapped_column(default=0)
    open_now: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0, server_default="0")
    """Cases created that day that are confirmed duplicates of another."""
    sla_breached: Mapped[int] = mapped_column(default=0, server_default="0")
    """Cases created that day whose SLA clock has breached a target."""
    reopened: Mapped[int] = mapped_column(default=0, server_default="0")
    """Cases closed that day that had been reopened at least once."""
    sat_responses: Mapped[int] = mapped_column(default=0, server_default="0")
    """Cases closed that day with a satisfaction answer; ``sat_score_sum`` sums the answers
    (1-5) and ``sat_satisfied`` counts the 4s and 5s."""
    sat_score_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    sat_satisfied: Mapped[int] = mapped_column(default=0, server_default="0")


class CloseTimeCount(Base):
    """A histogram of time to close: cases of one service type (0: none) that closed in one
    local month, per bucket of time (see :func:`contactcenter.performance.rollup.bucket_of`).
    Medians and 90th percentiles are read from it."""

    __tablename__ = "performance_close_times"

    jurisdiction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jurisdictions.id"), primary_key=True
    )
    month: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    """The first day of the local month the case closed in."""
    service_type_id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)


class CloseTimeByCount(Base):
    """The time-to-close histogram of :class:`CloseTimeCount` for the other breakdowns:
    ``dimension`` ``department`` or ``district``, ``value`` its id or code ("" for none)."""

    __tablename__ = "performance_close_times_by"

    jurisdiction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jurisdictions.id"), primary_key=True
    )
    month: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)


CONTACT_MEASURES = (
    "inbound",
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "abandoned_short",
    "answer_wait_seconds",
    "abandon_wait_seconds",
    "handled",
    "handle_seconds",
    "talk_seconds",
    "transfers",
    "resolved_on_contact",
    "ivr_calls",
    "self_served",
    "callbacks_requested",
    "callbacks_completed",
)
"""The sums each contact-center row holds (see :mod:`contactcenter.performance.contacts`)."""


class ContactMeasures:
    """The sums of :data:`CONTACT_MEASURES`, shared by the interval and daily tables."""

    inbound: Mapped[int] = mapped_column(default=0, server_default="0")
    offered: Mapped[int] = mapped_column(default=0, server_default="0")
    answered: Mapped[int] = mapped_column(default=0, server_default="0")
    answered_in_target: Mapped[int] = mapped_column(default=0, server_default="0")
    abandoned: Mapped[int] = mapped_column(default=0, server_default="0")
    abandoned_short: Mapped[int] = mapped_column(default=0, server_default="0")
    answer_wait_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    abandon_wait_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    handled: Mapped[int] = mapped_column(default=0, server_default="0")
    handle_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    talk_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    transfers: Mapped[int] = mapped_column(default=0, server_default="0")
    resolved_on_contact: Mapped[int] = mapped_column(default=0, server_default="0")
    ivr_calls: Mapped[int] = mapped_column(default=0, server_default="0")
    self_served: Mapped[int] = mapped_column(default=0, server_default="0")
    callbacks_requested: Mapped[int] = mapped_column(default=0, server_default="0")
    callbacks_completed: Mapped[int] = mapped_column(default=0, server_default="0")


class ContactInterval(ContactMeasures, Base):
    """What one jurisdiction's contacts of one channel in one queue (0: none) did, by the
    15-minute interval (``slot``: seconds since the epoch, UTC, divided by 900) they arrived
    in. Every time zone's offset is a multiple of 15 minutes, so local hours and days are
    sums of whole slots, across midnight and DST changes alike."""

    __tablename__ = "performance_contact_intervals"

    jurisdiction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jurisdictions.id"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)


class ContactDaily(ContactMeasures, Base):
    """The sums of :class:`ContactInterval` by the jurisdiction's local day, for long periods."""

    __tablename__ = "performance_contact_daily"

    jurisdiction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jurisdictions.id"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    queue_id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)


class RollupWatermark(Base):
    """How far a periodic rollup has read its sources (``name``: which rollup)."""

    __tablename__ = "performance_watermarks"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AgentDaily(Base):
    """What one agent did for one jurisdiction on one local day: the work they finished
    (``handled``, ``handle_seconds``), the time they held any work (``occupied_seconds``: the
    union of their work's assigned intervals, cut to the day) and the offers made to them that
    day, by outcome. Kept by the same periodic pass as :class:`ContactInterval`."""

    __tablename__ = "performance_agent_daily"

    jurisdiction_id: Mapped[int] = mapped_column(
        sa.ForeignKey("jurisdictions.id"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    agent_id: Mapped[int] = mapped_column(primary_key=True)
    handled: Mapped[int] = mapped_column(default=0, server_default="0")
    handle_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    occupied_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    offers: Mapped[int] = mapped_column(default=0, server_default="0")
    accepted: Mapped[int] = mapped_column(default=0, server_default="0")
    declined: Mapped[int] = mapped_column(default=0, server_default="0")
    timed_out: Mapped[int] = mapped_column(default=0, server_default="0")
