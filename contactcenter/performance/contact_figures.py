"""The contact-center figures of one jurisdiction for a period, read from the contact rollups.

Three queries whatever the volume or the length of the period: the queues (names and
targets), the sums by interval (15-minute slots, or local days for longer grains) for the
series, and the sums by queue and channel for the breakdowns and the totals. The rollups are
kept by :mod:`contactcenter.performance.contacts`.

Periods are whole local days of the jurisdiction. Hours and days are local too: a local day
is the sum of the 15-minute slots from one midnight to the next, so the day DST starts has 23
hours (the missing hour is absent from an hourly series) and the day it ends has 25 (the
repeated hour appears twice, with its two UTC offsets).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.contacts import SLOT_SECONDS
from contactcenter.performance.models import CONTACT_MEASURES, ContactDaily, ContactInterval
from contactcenter.performance.rollup import zone_of
from contactcenter.performance.targets import (
    SHORT_ABANDON_SECONDS,
    ServiceTarget,
    default_target,
    service_target,
)
from contactcenter.routing.models import Queue

Grain = Literal["15min", "hour", "day", "week", "month"]
GRAINS: tuple[str, ...] = get_args(Grain)

MAX_DAYS: dict[str, int] = {"15min": 31, "hour": 93, "day": 731, "week": 3660, "month": 3660}
"""The longest period each grain may be asked for, in days (the series has one point per
interval)."""

DEFINITIONS: dict[str, str] = {
    "contact": (
        "A contact is one piece of work that waited for a person: a phone call put in a queue, "
        "a web chat, or a new request (text, email, app) waiting for its first response. "
        "Escalations are not contacts. Each contact is counted in the 15-minute interval it "
        "arrived in, in the queue it is in now, on its channel. Hours and days are the city's "
        "local time; figures follow a contact that changes later (answered, moved to another "
        "queue) within about a minute."
    ),
    "offered": "Contacts that arrived in the period.",
    "answered": "Contacts an agent took (accepted or was given).",
    "abandoned": (
        "Calls and chats that ended before any agent took them: the caller hung up or left "
        "the queue, or the chat was handed off to text or email for lack of an agent."
    ),
    "abandoned_short": (
        f"Abandoned within {SHORT_ABANDON_SECONDS} seconds of arriving. These are left out of "
        "the service level and the abandonment rate: no staffing would have answered them."
    ),
    "abandoned_counted": "Abandoned contacts less the short abandons.",
    "answered_in_target": (
        "Answered contacts an agent took within the queue's target time for their channel."
    ),
    "answer_wait_seconds": "Total time answered contacts waited before an agent took them.",
    "abandon_wait_seconds": "Total time abandoned contacts waited before they ended.",
    "handle_seconds": "Total time from agents taking handled contacts to finishing them.",
    "resolved_on_contact": (
        "Handled contacts whose request was resolved when the agent finished, without a "
        "transfer, and not reopened since."
    ),
    "abandonment_rate": (
        "Abandoned contacts, less the short ones, as a share of offered contacts, less the short "
        "abandons."
    ),
    "service_level": (
        "Contacts answered within the queue's target time for the channel, as a share of "
        "contacts answered plus those abandoned (less the short abandons). Default targets: "
        "80% within 20 seconds for calls, 60 seconds for web chat, 15 minutes for texts, "
        "24 hours for email and other channels; a queue may set its own."
    ),
    "asa_seconds": (
        "Average speed of answer: the average time from a contact's arrival until an agent "
        "took it, over the answered contacts (a contact moved to another queue is timed to its "
        "last answer)."
    ),
    "aht_seconds": (
        "Average handle time: the average time from an agent taking a contact to finishing it "
        "(talk, or typing, plus wrap-up), over the contacts handled."
    ),
    "handled": "Answered contacts an agent has finished.",
    "talk_seconds": "Time agents spent talking on handled calls (part of handle time).",
    "fcr_rate": (
        "First-contact resolution: handled contacts whose request was resolved when the agent "
        "finished, without a transfer, and not reopened since, as a share of handled contacts."
    ),
    "transfers": "Times contacts were transferred to another queue or agent.",
    "inbound": (
        "Every message and call received from residents on any channel (several may belong to "
        "one contact). Counted in no queue."
    ),
    "ivr_calls": "Calls received by the phone menu, whether or not they reached a queue.",
    "self_served": (
        "Calls that ended in the phone menu with the caller's need met (a recorded answer or a "
        "request's status), without an agent."
    ),
    "callbacks_requested": "Callers in a queue who asked to be called back instead of waiting.",
    "callbacks_completed": (
        "Of those, the callbacks that reached the resident and an agent talked with them; "
        "counted in the interval of the call on which they were asked for."
    ),
    "ratios": "A ratio with nothing to divide by (no contacts) is shown as a dash, not zero.",
}


@dataclass
class ContactTotals:
    """The sums of :data:`CONTACT_MEASURES` over some contacts, and the ratios read from them."""

    inbound: int = 0
    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    answer_wait_seconds: int = 0
    abandon_wait_seconds: int = 0
    handled: int = 0
    handle_seconds: int = 0
    talk_seconds: int = 0
    transfers: int = 0
    resolved_on_contact: int = 0
    ivr_calls: int = 0
    self_served: int = 0
    callbacks_requested: int = 0
    callbacks_completed: int = 0

    def add(self, values: Sequence[Any]) -> None:
        """Add one row's measures, given in :data:`CONTACT_MEASURES` order."""
        sums = self.__dict__  # a dashboard adds thousands of rows: no getattr/setattr each
        for name, value in zip(CONTACT_MEASURES, values, strict=True):
            if value:
                sums[name] += int(value)

    def merge(self, other: ContactTotals) -> None:
        """Add another's sums to these."""
        sums, more = self.__dict__, other.__dict__
        for name in CONTACT_MEASURES:
            sums[name] += more[name]

    @property
    def abandoned_counted(self) -> int:
        """Abandoned, less the short abandons."""
        return self.abandoned - self.abandoned_short

    @property
    def abandonment_rate(self) -> float | None:
        return _ratio(self.abandoned_counted, self.offered - self.abandoned_short)

    @property
    def service_level(self) -> float | None:
        return _ratio(self.answered_in_target, self.answered + self.abandoned_counted)

    @property
    def asa_seconds(self) -> float | None:
        return _ratio(self.answer_wait_seconds, self.answered)

    @property
    def aht_seconds(self) -> float | None:
        return _ratio(self.handle_seconds, self.handled)

    @property
    def fcr_rate(self) -> float | None:
        return _ratio(self.resolved_on_contact, self.handled)

    def as_dict(self) -> dict[str, Any]:
        sums = self.__dict__
        return {
            **{name: sums[name] for name in CONTACT_MEASURES},
            "abandoned_counted": self.abandoned_counted,
            "abandonment_rate": self.abandonment_rate,
            "service_level": self.service_level,
            "asa_seconds": self.asa_seconds,
            "aht_seconds": self.aht_seconds,
            "fcr_rate": self.fcr_rate,
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass
class ContactReport:
    """The figures of a period: totals, a series (every interval, empty ones zero, starting at
    local aware datetimes), and the breakdowns by queue (0: none) and by channel."""

    start: dt.date
    end: dt.date
    grain: Grain
    totals: ContactTotals
    series: list[tuple[dt.datetime, ContactTotals]]
    by_queue: dict[int, ContactTotals] = field(default_factory=dict)
    by_channel: dict[str, ContactTotals] = field(default_factory=dict)
    queue_names: dict[int, str] = field(default_factory=dict)
    targets: dict[str, ServiceTarget] = field(default_factory=dict)
    """The service-level target of each channel: the one every queue in the report (the queues
    asked for, else those with contacts) shares, or the default when they differ."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "grain": self.grain,
            "totals": self.totals.as_dict(),
            "series": [{"start": at.isoformat(), **t.as_dict()} for at, t in self.series],
            "by_queue": [
                {"queue_id": queue_id, "name": self.queue_names.get(queue_id, ""), **t.as_dict()}
                for queue_id, t in sorted(self.by_queue.items())
            ],
            "by_channel": [
                {"channel": channel, **t.as_dict()}
                for channel, t in sorted(self.by_channel.items())
            ],
            "targets": {channel: t.as_dict() for channel, t in sorted(self.targets.items())},
        }


def contact_figures(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    start: dt.date,
    end: dt.date,
    grain: Grain = "day",
    queue_ids: Sequence[int] | None = None,
    channels: Sequence[str] | None = None,
    queues: Sequence[Any] | None = None,
) -> ContactReport:
    """The contact-center figures of the local days ``start`` to ``end`` (inclusive).

    ``queues`` are the jurisdiction's queues as :func:`contact_queues` reads them, for a
    caller that shows several periods (read here when not given).

    :raises Invalid: an unknown grain, ``end`` before ``start``, or a period too long for its
        grain (:data:`MAX_DAYS`).
    """
    if grain not in GRAINS:
        raise Invalid(f"Choose a grain among {', '.join(GRAINS)}.", code="bad_grain")
    if end < start:
        raise Invalid("The period ends before it starts.", code="bad_period")
    if (end - start).days + 1 > MAX_DAYS[grain]:
        raise Invalid(
            f"A {grain} series covers at most {MAX_DAYS[grain]} days.", code="period_too_long"
        )
    zone = zone_of(jurisdiction.timezone)
    if queues is None:
        queues = contact_queues(session, jurisdiction)
    queue_names = {queue_id: name for queue_id, name, _ in queues}
    fine = grain in ("15min", "hour")
    table: Any = ContactInterval if fine else ContactDaily
    key = table.slot if fine else table.day
    filters: list[sa.ColumnElement[bool]] = [table.jurisdiction_id == jurisdiction.id]
    first_slot, end_slot = _slot_of(start, zone), _slot_of(end + dt.timedelta(days=1), zone)
    if fine:
        filters += [table.slot >= first_slot, table.slot < end_slot]
    else:
        filters += [table.day >= start, table.day <= end]
    if queue_ids is not None:
        filters.append(table.queue_id.in_(sorted({int(q) for q in queue_ids})))
    if channels is not None:
        filters.append(table.channel.in_(sorted({str(c) for c in channels})))
    sums = [sa.func.sum(getattr(table, name)) for name in CONTACT_MEASURES]

    by_key: dict[Any, ContactTotals] = {}
    for row_key, *values in session.execute(
        sa.select(key, *sums).where(*filters).group_by(key).order_by(key)
    ):
        by_key.setdefault(row_key, ContactTotals()).add(values)
    totals = ContactTotals()
    by_queue: dict[int, ContactTotals] = {}
    by_channel: dict[str, ContactTotals] = {}
    for queue_id, channel, *values in session.execute(
        sa.select(table.queue_id, table.channel, *sums)
        .where(*filters)
        .group_by(table.queue_id, table.channel)
    ):
        totals.add(values)
        by_queue.setdefault(int(queue_id), ContactTotals()).add(values)
        by_channel.setdefault(str(channel), ContactTotals()).add(values)

    if fine:
        series = _fine_series(by_key, first_slot, end_slot, grain, zone)
    else:
        series = _daily_series(by_key, start, end, grain, zone)
    # The queues the targets are read from: those asked for, else those with contacts.
    scope = set(queue_ids) if queue_ids is not None else set(by_queue) or set(queue_names)
    in_scope = [q for q in queues if q[0] in scope]
    return ContactReport(
        start=start,
        end=end,
        grain=grain,
        totals=totals,
        series=series,
        by_queue=by_queue,
        by_channel=by_channel,
        queue_names=queue_names,
        targets=_targets([targets for _, _, targets in in_scope], channels, by_channel),
    )


def contact_queues(session: Session, jurisdiction: Jurisdiction) -> Sequence[Any]:
    """The jurisdiction's queues (id, name, service targets), as :func:`contact_figures`
    reads them."""
    return session.execute(
        sa.select(Queue.id, Queue.name, Queue.service_targets)
        .where(Queue.jurisdiction_id == jurisdiction.id)
        .order_by(Queue.id)
    ).all()


def _slot_of(day: dt.date, zone: dt.tzinfo) -> int:
    """The first slot of a local day (its midnight's)."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp()) // SLOT_SECONDS


def _fine_series(
    by_slot: dict[Any, ContactTotals], first: int, end: int, grain: str, zone: dt.tzinfo
) -> list[tuple[dt.datetime, ContactTotals]]:
    """One point per 15-minute slot, or per local hour: an hour is keyed by the UTC instant it
    starts at, so the hour repeated when DST ends is two points and the skipped one none."""
    points: dict[int, ContactTotals] = {}
    for slot in range(first, end):
        epoch = slot * SLOT_SECONDS
        if grain == "hour":
            epoch -= dt.datetime.fromtimestamp(epoch, zone).minute * 60
        point = points.get(epoch)
        if point is None:
            point = points[epoch] = ContactTotals()
        totals = by_slot.get(slot)
        if totals is not None:
            point.merge(totals)
    return [(dt.datetime.fromtimestamp(epoch, zone), t) for epoch, t in points.items()]


def _daily_series(
    by_day: dict[Any, ContactTotals], start: dt.date, end: dt.date, grain: str, zone: dt.tzinfo
) -> list[tuple[dt.datetime, ContactTotals]]:
    """One point per local day, week (from Monday) or month, each starting at its first day
    in the period (the first week or month may start later than Monday or the 1st)."""
    points: dict[dt.date, ContactTotals] = {}
    day = start
    while day <= end:
        if grain == "week":
            first = max(day - dt.timedelta(days=day.weekday()), start)
        elif grain == "month":
            first = max(day.replace(day=1), start)
        else:
            first = day
        point = points.setdefault(first, ContactTotals())
        totals = by_day.get(day)
        if totals is not None:
            point.merge(totals)
        day += dt.timedelta(days=1)
    return [(dt.datetime.combine(d, dt.time(), tzinfo=zone), t) for d, t in points.items()]


def _targets(
    queue_targets: list[Any], channels: Sequence[str] | None, by_channel: dict[str, Any]
) -> dict[str, ServiceTarget]:
    """Each channel's target (channels asked for, or with contacts): shared by every queue in
    scope, else the default."""
    wanted = sorted({str(c) for c in channels} if channels is not None else set(by_channel))
    result: dict[str, ServiceTarget] = {}
    for channel in wanted:
        seen = {service_target(targets, channel) for targets in queue_targets}
        result[channel] = seen.pop() if len(seen) == 1 else default_target(channel)
    return result
