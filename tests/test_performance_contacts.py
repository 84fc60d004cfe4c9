"""Contact-center figures on small hand-built histories where every right answer is known.

The city keeps New York's time: 2026-03-08 has 23 hours (02:00 does not exist), 2026-11-01
has 25 (01:00 to 02:00 happens twice).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.errors import Invalid
from contactcenter.messages import Channel, Direction
from contactcenter.performance.contact_figures import (
    DEFINITIONS,
    ContactReport,
    ContactTotals,
    contact_figures,
)
from contactcenter.performance.contacts import (
    rebuild_contact_rollups,
    refresh_contact_rollups,
)
from contactcenter.performance.models import (
    CONTACT_MEASURES,
    ContactDaily,
    ContactInterval,
    RollupWatermark,
)
from contactcenter.performance.targets import ServiceTarget, service_target
from contactcenter.routing.models import Queue, WorkItem, WorkKind, WorkState
from tests.factories import make_queue

NEW_YORK = ZoneInfo("America/New_York")
_sid = itertools.count(1)


def local(*parts: int, fold: int = 0) -> dt.datetime:
    """A New York wall-clock time, as the UTC instant the database stores."""
    return dt.datetime(*parts, tzinfo=NEW_YORK, fold=fold).astimezone(dt.UTC)  # type: ignore[misc]


def seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


@pytest.fixture
def city(jurisdiction):
    jurisdiction.timezone = "America/New_York"
    return jurisdiction


@pytest.fixture
def general(session, city) -> Queue:
    return make_queue(session, city, "general")


@pytest.fixture
def water(session, city) -> Queue:
    """A queue with its own voice target: 90 % within 60 s."""
    return make_queue(
        session, city, "water", service_targets={"voice": {"seconds": 60, "percent": 90}}
    )


def work(
    session: Any,
    queue: Queue,
    arrived: dt.datetime,
    *,
    kind: WorkKind = WorkKind.CALL,
    channel: Channel = Channel.VOICE,
    answered: float | None = None,
    done: float | None = None,
    cancelled: float | None = None,
    transfers: int = 0,
    resolved: bool = False,
) -> WorkItem:
    """A contact of ``queue`` that arrived at ``arrived``; ``answered`` seconds later an agent
    took it, ``done`` seconds after that they finished; or it was ``cancelled`` seconds after
    arriving, unanswered."""
    item = WorkItem(
        jurisdiction_id=queue.jurisdiction_id,
        kind=kind,
        channel=channel,
        queue_id=queue.id,
        created_at=arrived,
        target_started_at=arrived,
        targets=[[queue.id, None]],
        state=WorkState.WAITING,
        transfers=transfers,
        resolved_on_contact=resolved,
    )
    if answered is not None:
        item.assigned_at = item.first_assigned_at = arrived + seconds(answered)
        item.state = WorkState.ASSIGNED
        if done is not None:
            item.completed_at = item.assigned_at + seconds(done)
            item.state = WorkState.COMPLETED
    elif cancelled is not None:
        item.completed_at = arrived + seconds(cancelled)
        item.state = WorkState.CANCELLED
    session.add(item)
    session.flush()
    return item


def call(
    session: Any,
    city: Any,
    started: dt.datetime,
    *,
    outcome: CallOutcome = CallOutcome.HUNG_UP,
    queue: Queue | None = None,
    item: WorkItem | None = None,
    callback: bool = False,
    talk: int | None = None,
) -> Call:
    """An inbound call (and its interaction) that started at ``started``."""
    sid = f"CA{next(_sid):032d}"
    interaction = Interaction(
        jurisdiction_id=city.id,
        channel=Channel.VOICE,
        direction=Direction.INBOUND,
        provider_id=sid,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=started,
        processed_at=started,
    )
    row = Call(
        jurisdiction_id=city.id,
        interaction=interaction,
        call_sid=sid,
        direction=Direction.INBOUND,
        outcome=outcome,
        queue_id=queue.id if queue is not None else None,
        work_item_id=item.id if item is not None else None,
        callback_requested_at=started + seconds(60) if callback else None,
        talk_seconds=talk,
        created_at=started,
    )
    session.add_all([interaction, row])
    session.flush()
    return row


def message(session: Any, city: Any, at: dt.datetime, channel: Channel = Channel.SMS) -> None:
    session.add(
        Interaction(
            jurisdiction_id=city.id,
            channel=channel,
            direction=Direction.INBOUND,
            provider_id=f"SM{next(_sid):032d}",
            delivery_status=DeliveryStatus.RECEIVED,
            created_at=at,
            processed_at=at,
        )
    )
    session.flush()


def rows(session: Any, model: Any) -> list[tuple[Any, ...]]:
    columns = [c for c in model.__table__.columns]
    return [tuple(r) for r in session.execute(sa.select(*columns).order_by(*columns))]


def refreshed(session: Any, city: Any, **kwargs: Any) -> ContactReport:
    """Refresh, commit, check a rebuild from scratch gives the same rows, and read."""
    refresh_contact_rollups(session)
    session.commit()
    kept = (rows(session, ContactInterval), rows(session, ContactDaily))
    rebuild_contact_rollups(session, city.id)
    session.commit()
    assert (rows(session, ContactInterval), rows(session, ContactDaily)) == kept
    return contact_figures(session, city, **kwargs)


def day(report: ContactReport, on: dt.date) -> ContactTotals:
    return dict((at.date(), t) for at, t in report.series)[on]


# --- Service level, abandonment, speed of answer -----------------------------------------------


def test_a_call_abandoned_in_its_first_seconds_is_left_out_of_service_level_and_abandonment(
    session, city, general
):
    nine = local(2026, 4, 14, 9, 0)
    work(session, general, nine, answered=10, done=100)  # inside 20 s
    work(session, general, nine + seconds(60), answered=30, done=200)  # outside
    work(session, general, nine + seconds(120), cancelled=3)  # short abandon
    work(session, general, nine + seconds(180), cancelled=40)  # abandoned
    report = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14))
    t = report.totals
    assert (t.offered, t.answered, t.answered_in_target) == (4, 2, 1)
    assert (t.abandoned, t.abandoned_short, t.abandoned_counted) == (2, 1, 1)
    assert t.abandon_wait_seconds == 43
    assert t.service_level == pytest.approx(1 / 3)  # 1 in target of 2 answered + 1 abandoned
    assert t.abandonment_rate == pytest.approx(1 / 3)  # 1 of 4 offered less 1 short
    assert t.asa_seconds == 20  # (10 + 30) / 2
    assert (t.handled, t.handle_seconds, t.aht_seconds) == (2, 300, 150)
    assert report.targets == {"voice": ServiceTarget(20, 80)}


def test_answered_at_exactly_the_target_is_within_it_and_abandoned_at_five_seconds_counts(
    session, city, general
):
    nine = local(2026, 4, 14, 9, 0)
    work(session, general, nine, answered=20)
    work(session, general, nine + seconds(1), answered=20.5)
    work(session, general, nine + seconds(2), cancelled=5)
    work(session, general, nine + seconds(3), cancelled=4.9)
    t = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14)).totals
    assert (t.answered, t.answered_in_target) == (2, 1)
    assert (t.abandoned, t.abandoned_short) == (2, 1)
    assert t.service_level == pytest.approx(1 / 3)


def test_each_channel_is_measured_against_its_own_target(session, city, general):
    nine = local(2026, 4, 14, 9, 0)
    work(session, general, nine, kind=WorkKind.CHAT, channel=Channel.WEBCHAT, answered=59)
    work(session, general, nine, kind=WorkKind.CHAT, channel=Channel.WEBCHAT, answered=61)
    work(session, general, nine, kind=WorkKind.FIRST_RESPONSE, channel=Channel.SMS, answered=899)
    work(
        session, general, nine, kind=WorkKind.FIRST_RESPONSE, channel=Channel.EMAIL, answered=86401
    )
    report = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14))
    assert report.by_channel["webchat"].service_level == pytest.approx(0.5)
    assert report.by_channel["sms"].service_level == 1
    assert report.by_channel["email"].service_level == 0
    assert report.targets["sms"] == ServiceTarget(900, 80)


def test_a_queues_own_target_overrides_the_default(session, city, general, water):
    nine = local(2026, 4, 14, 9, 0)
    work(session, general, nine, answered=30)
    work(session, water, nine, answered=30)
    work(session, water, nine, answered=61)
    report = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14))
    assert report.by_queue[general.id].service_level == 0
    assert report.by_queue[water.id].service_level == pytest.approx(0.5)
    assert report.totals.answered_in_target == 1
    assert report.targets == {"voice": ServiceTarget(20, 80)}  # the queues differ: the default
    only_water = contact_figures(
        session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14), queue_ids=[water.id]
    )
    assert only_water.targets == {"voice": ServiceTarget(60, 90)}
    assert only_water.totals.offered == 2
    assert set(only_water.by_queue) == {water.id}


def test_service_target_falls_back_to_the_default_for_what_makes_no_sense():
    assert service_target(None, "voice") == ServiceTarget(20, 80)
    assert service_target({"voice": {"seconds": 30}}, "voice") == ServiceTarget(30, 80)
    assert service_target({"voice": {"seconds": -1, "percent": 101}}, "voice") == ServiceTarget(
        20, 80
    )
    assert service_target({"voice": "fast"}, "voice") == ServiceTarget(20, 80)
    assert service_target({}, "walk_in") == ServiceTarget(86400, 80)
    assert service_target({"email": {"seconds": True}}, "email") == ServiceTarget(86400, 80)


# --- Handling, resolution, transfers, the phone menu -------------------------------------------


def test_handle_time_talk_resolution_and_transfers(session, city, general):
    nine = local(2026, 4, 14, 9, 0)
    first = work(session, general, nine, answered=5, done=300, resolved=True)
    call(
        session,
        city,
        nine - seconds(30),
        item=first,
        queue=general,
        talk=240,
        outcome=CallOutcome.ANSWERED,
    )
    work(session, general, nine, answered=5, done=100, transfers=2)
    work(session, general, nine, answered=5, transfers=1)  # still with the agent
    work(session, general, nine, kind=WorkKind.ESCALATION, answered=5, done=50)  # not a contact
    t = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14)).totals
    assert (t.offered, t.answered, t.handled) == (3, 3, 2)
    assert (t.handle_seconds, t.aht_seconds, t.talk_seconds) == (400, 200, 240)
    assert (t.resolved_on_contact, t.fcr_rate) == (1, 0.5)
    assert t.transfers == 3


def test_phone_menu_calls_self_service_and_callbacks(session, city, general):
    nine = local(2026, 4, 14, 9, 0)
    call(session, city, nine, outcome=CallOutcome.SELF_SERVED)
    call(session, city, nine, outcome=CallOutcome.HUNG_UP)
    call(session, city, nine, queue=general, callback=True, outcome=CallOutcome.ANSWERED)
    call(session, city, nine, queue=general, callback=True, outcome=CallOutcome.FAILED)
    call(session, city, nine, queue=general, outcome=CallOutcome.ANSWERED)
    message(session, city, nine)
    message(session, city, nine, Channel.EMAIL)
    report = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14))
    t = report.totals
    assert (t.ivr_calls, t.self_served) == (5, 1)
    assert (t.callbacks_requested, t.callbacks_completed) == (2, 1)
    assert t.inbound == 7  # five calls, a text and an email
    assert t.offered == 0
    assert report.by_queue[0].ivr_calls == 2  # never reached a queue
    assert report.by_queue[general.id].callbacks_requested == 2
    assert (report.by_channel["voice"].inbound, report.by_channel["email"].inbound) == (5, 1)


def test_a_first_response_parked_for_its_chat_is_not_a_second_contact(session, city, general):
    nine = local(2026, 4, 14, 9, 0)
    work(session, general, nine, kind=WorkKind.FIRST_RESPONSE, channel=Channel.WEBCHAT, cancelled=0)
    work(session, general, nine, kind=WorkKind.CHAT, channel=Channel.WEBCHAT, answered=12)
    # A first response withdrawn later (answered from the case) is a contact, never abandoned.
    work(session, general, nine, kind=WorkKind.FIRST_RESPONSE, channel=Channel.SMS, cancelled=600)
    t = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14)).totals
    assert (t.offered, t.answered, t.abandoned) == (2, 1, 0)


def test_cancelled_work_without_completed_at_is_timed_by_its_last_update(session, city, general):
    arrived = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=100)
    item = work(session, general, arrived, cancelled=1)
    session.execute(sa.update(WorkItem).where(WorkItem.id == item.id).values(completed_at=None))
    today = arrived.astimezone(NEW_YORK).date()
    t = refreshed(session, city, start=today, end=today).totals
    assert (t.abandoned, t.abandoned_short) == (1, 0)
    assert 95 <= t.abandon_wait_seconds <= 200


# --- Local time: midnight and DST ----------------------------------------------------------------


def test_contacts_either_side_of_local_midnight_fall_on_their_own_local_days(
    session, city, general
):
    # 23:59:50 local is 03:59:50 UTC the next day: still the 14th here.
    work(session, general, local(2026, 4, 14, 23, 59, 50), answered=30)  # answered after midnight
    work(session, general, local(2026, 4, 15, 0, 0, 0), answered=5)
    work(session, general, local(2026, 4, 14, 0, 0, 0) - seconds(1), answered=5)  # the 13th
    report = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 15))
    assert [(at.isoformat(), t.offered) for at, t in report.series] == [
        ("2026-04-14T00:00:00-04:00", 1),
        ("2026-04-15T00:00:00-04:00", 1),
    ]
    assert day(report, dt.date(2026, 4, 14)).answer_wait_seconds == 30
    assert report.totals.offered == 2
    fine = contact_figures(
        session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14), grain="15min"
    )
    assert len(fine.series) == 96
    assert fine.series[-1][0].isoformat() == "2026-04-14T23:45:00-04:00"
    assert fine.series[-1][1].offered == 1
    assert sum(t.offered for _, t in fine.series) == 1


def test_the_day_dst_starts_has_23_hours_and_its_total(session, city, general):
    work(session, general, local(2026, 3, 8, 1, 30), answered=10)  # 06:30 UTC, EST
    work(session, general, local(2026, 3, 8, 3, 30), answered=10)  # 07:30 UTC, EDT
    work(session, general, local(2026, 3, 8, 23, 50), answered=10)
    work(session, general, local(2026, 3, 7, 23, 50), answered=10)
    report = refreshed(
        session, city, start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 8), grain="hour"
    )
    hours = [at.isoformat() for at, _ in report.series]
    assert len(hours) == 23
    assert "2026-03-08T01:00:00-05:00" in hours and "2026-03-08T03:00:00-04:00" in hours
    assert not any(h.startswith("2026-03-08T02:") for h in hours)
    by_hour = {at.hour: t.offered for at, t in report.series}
    assert (by_hour[1], by_hour[3], by_hour[23]) == (1, 1, 1)
    assert report.totals.offered == 3
    days = contact_figures(session, city, start=dt.date(2026, 3, 7), end=dt.date(2026, 3, 8))
    assert [t.offered for _, t in days.series] == [1, 3]
    fine = contact_figures(
        session, city, start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 8), grain="15min"
    )
    assert len(fine.series) == 92


def test_the_day_dst_ends_has_the_repeated_hour_twice(session, city, general):
    work(session, general, local(2026, 11, 1, 1, 30, fold=0), answered=10)  # EDT, 05:30 UTC
    work(session, general, local(2026, 11, 1, 1, 30, fold=1), answered=30)  # EST, 06:30 UTC
    work(session, general, local(2026, 11, 1, 1, 45, fold=1), cancelled=2)
    work(session, general, local(2026, 11, 1, 23, 59), answered=10)
    report = refreshed(
        session, city, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 1), grain="hour"
    )
    assert len(report.series) == 25
    ones = [
        (at.isoformat(), t.offered, t.answer_wait_seconds)
        for at, t in report.series
        if at.hour == 1
    ]
    assert ones == [
        ("2026-11-01T01:00:00-04:00", 1, 10),
        ("2026-11-01T01:00:00-05:00", 2, 30),
    ]
    assert report.totals.offered == 4
    whole = contact_figures(session, city, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 1))
    assert [(at.isoformat(), t.offered, t.abandoned_short) for at, t in whole.series] == [
        ("2026-11-01T00:00:00-04:00", 4, 1)
    ]
    fine = contact_figures(
        session, city, start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 1), grain="15min"
    )
    assert len(fine.series) == 100


def test_weeks_start_on_monday_and_months_on_the_first_within_the_period(session, city, general):
    work(session, general, local(2026, 4, 1, 12, 0), answered=1)  # Wednesday
    work(session, general, local(2026, 4, 6, 12, 0), answered=1)  # Monday
    work(session, general, local(2026, 5, 2, 12, 0), answered=1)
    weeks = refreshed(
        session, city, start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 12), grain="week"
    )
    assert [(at.date().isoformat(), t.offered) for at, t in weeks.series] == [
        ("2026-04-01", 1),
        ("2026-04-06", 1),
    ]
    months = contact_figures(
        session, city, start=dt.date(2026, 3, 15), end=dt.date(2026, 5, 31), grain="month"
    )
    assert [(at.date().isoformat(), t.offered) for at, t in months.series] == [
        ("2026-03-15", 0),
        ("2026-04-01", 2),
        ("2026-05-01", 1),
    ]


# --- Empty periods, bad periods, definitions ---------------------------------------------------


def test_an_empty_period_has_zeros_and_no_ratios(session, city, general):
    report = refreshed(session, city, start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 3))
    assert len(report.series) == 3 and all(t == ContactTotals() for _, t in report.series)
    t = report.totals
    assert all(getattr(t, name) == 0 for name in CONTACT_MEASURES)
    assert (t.service_level, t.abandonment_rate, t.asa_seconds, t.aht_seconds, t.fcr_rate) == (
        None,
        None,
        None,
        None,
        None,
    )
    data = report.as_dict()
    assert data["totals"]["service_level"] is None and data["by_queue"] == []
    assert report.targets == {}


def test_only_short_abandons_leave_service_level_and_abandonment_undefined(session, city, general):
    work(session, general, local(2026, 4, 14, 9, 0), cancelled=1)
    t = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14)).totals
    assert (t.offered, t.abandoned_short) == (1, 1)
    assert (t.service_level, t.abandonment_rate) == (None, None)


def test_bad_periods_are_refused(session, city):
    with pytest.raises(Invalid):
        contact_figures(session, city, start=dt.date(2026, 4, 2), end=dt.date(2026, 4, 1))
    with pytest.raises(Invalid):
        contact_figures(
            session, city, start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 1), grain="15min"
        )
    with pytest.raises(Invalid):
        contact_figures(
            session,
            city,
            start=dt.date(2026, 1, 1),
            end=dt.date(2026, 1, 1),
            grain="year",  # type: ignore[arg-type]
        )


def test_every_figure_shown_has_a_definition():
    shown = {
        "offered",
        "answered",
        "abandoned",
        "abandoned_short",
        "abandonment_rate",
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "handled",
        "fcr_rate",
        "transfers",
        "inbound",
        "ivr_calls",
        "self_served",
        "callbacks_requested",
        "callbacks_completed",
    }
    assert shown <= set(DEFINITIONS)
    assert all(len(text) > 20 for text in DEFINITIONS.values())


def test_the_report_as_json(session, city, general, water):
    work(session, water, local(2026, 4, 14, 9, 0), answered=30, done=60)
    data = refreshed(session, city, start=dt.date(2026, 4, 14), end=dt.date(2026, 4, 14)).as_dict()
    assert data["start"] == "2026-04-14" and data["grain"] == "day"
    assert data["series"][0]["start"] == "2026-04-14T00:00:00-04:00"
    assert data["by_queue"] == [
        {"queue_id": water.id, "name": "water", **data["totals"]},
    ]
    assert data["totals"]["service_level"] == 1.0
    assert data["targets"] == {"voice": {"seconds": 60, "percent": 90}}
    assert data["by_channel"][0]["channel"] == "voice"


# --- Changes after the fact ----------------------------------------------------------------------


def test_work_answered_later_is_counted_answered_by_the_next_refresh(session, city, general):
    arrived = local(2026, 4, 14, 9, 0)
    item = work(session, general, arrived)
    # The slot's messages and its call in no queue are kept as they were (not read again).
    message(session, city, arrived)
    message(session, city, arrived + seconds(5))
    call(session, city, arrived, outcome=CallOutcome.SELF_SERVED)
    today = dt.date(2026, 4, 14)
    assert refreshed(session, city, start=today, end=today).totals.answered == 0
    session.execute(
        sa.update(WorkItem)
        .where(WorkItem.id == item.id)
        .values(
            state=WorkState.ASSIGNED,
            assigned_at=arrived + seconds(15),
            first_assigned_at=arrived + seconds(15),
        )
    )
    report = refreshed(session, city, start=today, end=today)
    assert (report.totals.offered, report.totals.answered, report.totals.answered_in_target) == (
        1,
        1,
        1,
    )
    assert (report.totals.inbound, report.totals.self_served) == (3, 1)
    assert (report.by_channel["sms"].inbound, report.by_channel["voice"].inbound) == (2, 1)


def test_work_moved_to_another_queue_leaves_its_old_queues_interval(session, city, general, water):
    arrived = local(2026, 4, 14, 9, 0)
    item = work(session, general, arrived)
    work(session, general, arrived + seconds(60), answered=5)
    today = dt.date(2026, 4, 14)
    assert refreshed(session, city, start=today, end=today).by_queue[general.id].offered == 2
    item.queue_id = water.id
    session.flush()
    report = refreshed(session, city, start=today, end=today, grain="15min")
    assert (report.by_queue[general.id].offered, report.by_queue[water.id].offered) == (1, 1)
    assert report.totals.offered == 2


def test_refreshing_again_changes_nothing(session, city, general):
    work(session, general, local(2026, 4, 14, 9, 0), answered=10, done=60)
    call(session, city, local(2026, 4, 14, 9, 0), outcome=CallOutcome.SELF_SERVED)
    refresh_contact_rollups(session)
    session.commit()
    before = (rows(session, ContactInterval), rows(session, ContactDaily))
    assert before[0] and before[1]
    for _ in range(2):
        refresh_contact_rollups(session)
        session.commit()
        assert (rows(session, ContactInterval), rows(session, ContactDaily)) == before


def test_a_refresh_with_nothing_new_writes_nothing(session, city, general, count_queries):
    work(session, general, local(2026, 4, 14, 9, 0), answered=10)
    refresh_contact_rollups(session)
    session.commit()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    # Nothing changed in the last ten minutes (the clock is moved on by pushing the watermark).
    session.execute(sa.update(RollupWatermark).values(value=later))
    session.commit()
    with count_queries() as counter:
        assert refresh_contact_rollups(session) == set()
    assert not any(
        s.lstrip().upper().startswith(("DELETE", "INSERT INTO PERFORMANCE_CONTACT"))
        for s in counter.statements
    )
    # The contacts' (six with PostgreSQL's lock), the agents' days that may have changed, and
    # (PostgreSQL) the oldest open transaction, which the watermark may not pass.
    assert counter.count <= 9


# --- Constant queries -------------------------------------------------------------------------


@pytest.mark.parametrize("grain", ["15min", "hour", "day", "week", "month"])
def test_figures_take_the_same_few_queries_for_a_day_and_a_month(
    session, city, general, water, count_queries, grain
):
    for n in range(40):
        queue = general if n % 2 else water
        work(session, queue, local(2026, 4, 1, 8, 0) + dt.timedelta(hours=17 * n), answered=n)
    refresh_contact_rollups(session)
    session.commit()
    counts = []
    for end in (dt.date(2026, 4, 1), dt.date(2026, 4, 30)):
        with count_queries() as counter:
            report = contact_figures(session, city, start=dt.date(2026, 4, 1), end=end, grain=grain)
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 3
    assert report.totals.offered == 40


def test_a_callback_completed_later_and_a_message_processed_late_are_picked_up(
    session, city, general
):
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    asked = call(
        session, city, started, queue=general, callback=True, outcome=CallOutcome.CALLBACK_REQUESTED
    )
    late = Interaction(
        jurisdiction_id=city.id,
        channel=Channel.SMS,
        direction=Direction.INBOUND,
        provider_id="SMlate",
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=started,
    )
    session.add(late)
    today = started.astimezone(NEW_YORK).date()
    t = refreshed(session, city, start=today, end=today).totals
    assert (t.callbacks_requested, t.callbacks_completed, t.inbound) == (1, 0, 2)
    asked.outcome = CallOutcome.ANSWERED  # the callback reached them (updated_at moves on)
    late.processed_at = dt.datetime.now(dt.UTC)
    session.flush()
    t = refreshed(session, city, start=today, end=today).totals
    assert (t.callbacks_requested, t.callbacks_completed, t.inbound) == (1, 1, 2)


def test_an_old_calls_change_arrives_with_its_work_item(session, city, general):
    arrived = local(2026, 4, 14, 9, 0)
    item = work(session, general, arrived + seconds(40), answered=10)
    asked = call(session, city, arrived, queue=general, item=item, outcome=CallOutcome.IN_QUEUE)
    today = dt.date(2026, 4, 14)
    assert refreshed(session, city, start=today, end=today).totals.self_served == 0
    asked.talk_seconds = 120
    item.state = WorkState.COMPLETED
    item.completed_at = item.assigned_at + seconds(150)
    session.flush()
    t = refreshed(session, city, start=today, end=today).totals
    assert (t.handled, t.talk_seconds, t.handle_seconds) == (1, 120, 150)
