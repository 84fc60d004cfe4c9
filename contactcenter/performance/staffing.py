"""The staffing plan: the agents each forecast half-hour needs (Erlang C on the forecast).

:func:`staffing_plan` is what the console's staffing page and the staff API show: the
forecast of one channel (:mod:`contactcenter.performance.forecast`), and for each half-hour
the result of :func:`contactcenter.performance.erlang.staffing` with the handle time, the
service-level target, the maximum occupancy and the shrinkage given, or their defaults.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.erlang import Staffing, staffing
from contactcenter.performance.forecast import Forecast, forecast
from contactcenter.performance.models import ContactDaily
from contactcenter.performance.targets import ServiceTarget, service_target
from contactcenter.routing.models import Queue

DEFAULT_AHT_SECONDS = 180.0
"""The handle time used when the history has no handled contact of the channel."""
AHT_WEEKS = 4
"""How many weeks before the forecast the default handle time is read from."""
DEFAULT_MAX_OCCUPANCY = 0.85
DEFAULT_SHRINKAGE = 0.30
"""The industry's usual planning values (the worked example of Erlang C uses both)."""
INTERVAL_SECONDS = 1800

DEFINITIONS: dict[str, str] = {
    "agents": (
        "Agents needed on the floor in the half-hour: the fewest for which Erlang C gives the "
        "target service level without passing the maximum occupancy."
    ),
    "scheduled_agents": (
        "Agents to schedule so that the agents needed are there after shrinkage: "
        "agents / (1 - shrinkage), rounded up."
    ),
    "traffic_erlangs": "Workload: forecast contacts x handle time / 1,800 s.",
    "service_level": "Expected share of contacts answered within the target time (Erlang C).",
    "probability_waiting": "Expected share of contacts that wait at all (Erlang C).",
    "asa_seconds": "Expected average speed of answer: the mean wait of every contact.",
    "occupancy": "Expected share of the agents' time spent on contacts: workload / agents.",
    "aht_seconds": (
        "Average handle time (talk + wrap-up) of the channel's contacts handled in the four "
        "weeks before the forecast, unless given."
    ),
    "shrinkage": "Share of paid time not available for contacts (breaks, training, absence).",
    "max_occupancy": "The busiest the agents may be planned to be (burn-out above ~85 %).",
}


def recent_aht(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    channel: str | None,
    before: dt.date,
    weeks: int = AHT_WEEKS,
    queue_id: int | None = None,
) -> float | None:
    """The average handle time of the contacts handled in the ``weeks`` before local day
    ``before`` (None when none was), from the daily rollup: one query."""
    query = sa.select(
        sa.func.coalesce(sa.func.sum(ContactDaily.handle_seconds), 0),
        sa.func.coalesce(sa.func.sum(ContactDaily.handled), 0),
    ).where(
        ContactDaily.jurisdiction_id == jurisdiction.id,
        ContactDaily.day >= before - dt.timedelta(weeks=weeks),
        ContactDaily.day < before,
    )
    if channel is not None:
        query = query.where(ContactDaily.channel == channel)
    if queue_id is not None:
        query = query.where(ContactDaily.queue_id == queue_id)
    seconds, handled = session.execute(query).one()
    return None if not handled else round(int(seconds) / int(handled), 1)


@dataclass(frozen=True)
class StaffingRow:
    start: dt.datetime
    forecast: float
    actual: int | None
    staffing: Staffing

    def as_dict(self) -> dict[str, Any]:
        figures = self.staffing.as_dict()
        figures["asa_seconds"] = round(figures["asa_seconds"], 1)
        return {
            "start": self.start.isoformat(),
            "forecast": self.forecast,
            "actual": self.actual,
            **figures,
        }


@dataclass
class StaffingPlan:
    forecast: Forecast
    rows: list[StaffingRow]
    aht_seconds: float
    aht_source: str
    """``given``, ``history`` (:func:`recent_aht`) or ``default`` (:data:`DEFAULT_AHT_SECONDS`)."""
    target: ServiceTarget
    max_occupancy: float
    shrinkage: float

    @property
    def peak(self) -> StaffingRow | None:
        return max(self.rows, key=lambda r: r.staffing.scheduled_agents, default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.forecast.channel,
            "queue_id": self.forecast.queue_id,
            "measure": self.forecast.measure,
            "start": self.forecast.as_dict()["start"],
            "end": self.forecast.as_dict()["end"],
            "aht_seconds": self.aht_seconds,
            "aht_source": self.aht_source,
            "target": self.target.as_dict(),
            "max_occupancy": self.max_occupancy,
            "shrinkage": self.shrinkage,
            "intervals": [row.as_dict() for row in self.rows],
            "definitions": DEFINITIONS,
        }


def staffing_plan(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    channel: str,
    start: dt.date,
    weeks: int = 1,
    history_weeks: int = 8,
    measure: str = "offered",
    profile: str = "mean",
    aht_seconds: float | None = None,
    target_seconds: float | None = None,
    target_percent: float | None = None,
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY,
    shrinkage: float = DEFAULT_SHRINKAGE,
    queue: Queue | None = None,
    now: dt.datetime | None = None,
) -> StaffingPlan:
    """The forecast of ``channel`` from ``start`` with the agents each half-hour needs.

    With ``queue`` (the caller checks it is the jurisdiction's), its contacts alone, and its
    target for the channel; a target left out is the queue's or the channel's default
    (:func:`contactcenter.performance.targets.service_target`);
    the handle time left out is :func:`recent_aht`'s, or 180 s without history. Half-hours
    with the same forecast are computed once. Two queries.

    :raises ValueError: any input out of range (the message names it).
    """
    default = service_target(None if queue is None else queue.service_targets, channel)
    seconds = default.seconds if target_seconds is None else target_seconds
    percent = default.percent if target_percent is None else target_percent
    # Checked before the queries: a bad value fails the same way with or without history.
    staffing(
        contacts=1,
        interval_seconds=INTERVAL_SECONDS,
        aht_seconds=DEFAULT_AHT_SECONDS if aht_seconds is None else aht_seconds,
        target_seconds=seconds,
        target_percent=percent,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
    )
    target = ServiceTarget(seconds=round(seconds), percent=round(percent))
    if target.seconds != seconds:
        raise ValueError("target_seconds must be a whole number of seconds.")
    if target.percent != percent:
        raise ValueError("target_percent must be a whole number.")
    predicted = forecast(
        session,
        jurisdiction,
        channel=channel,
        start=start,
        weeks=weeks,
        history_weeks=history_weeks,
        measure=measure,
        profile=profile,
        queue_id=None if queue is None else queue.id,
        now=now,
    )
    source = "given"
    if aht_seconds is None:
        source, aht_seconds = "default", DEFAULT_AHT_SECONDS
        found = recent_aht(
            session,
            jurisdiction,
            channel=channel,
            before=predicted.history_end or start,
            queue_id=None if queue is None else queue.id,
        )
        if found:
            source, aht_seconds = "history", found
    known: dict[float, Staffing] = {}
    rows = []
    for point in predicted.points:
        if point.forecast not in known:
            known[point.forecast] = staffing(
                contacts=point.forecast,
                interval_seconds=INTERVAL_SECONDS,
                aht_seconds=aht_seconds,
                target_seconds=target.seconds,
                target_percent=target.percent,
                max_occupancy=max_occupancy,
                shrinkage=shrinkage,
            )
        rows.append(StaffingRow(point.start, point.forecast, point.actual, known[point.forecast]))
    return StaffingPlan(
        forecast=predicted,
        rows=rows,
        aht_seconds=aht_seconds,
        aht_source=source,
        target=target,
        max_occupancy=max_occupancy,
        shrinkage=shrinkage,
    )


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week: the forecast's default start, so that the days of this
    week already past show forecast against actual."""
    return day - dt.timedelta(days=day.weekday())
