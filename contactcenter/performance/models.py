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

from contactcenter.db import Base


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
