"""Agents' figures on small hand-built histories whose right answers are known."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, PresenceChange
from contactcenter.db import utcnow
from contactcenter.messages import Channel
from contactcenter.performance.agent_daily import COLUMNS
from contactcenter.performance.agent_figures import AGENT_DEFINITIONS, AgentFigures, agent_figures
from contactcenter.performance.contacts import rebuild_contact_rollups, refresh_contact_rollups
from contactcenter.performance.models import AgentDaily
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem, WorkKind, WorkState
from tests.factories import make_queue

TORONTO = ZoneInfo("America/Toronto")
HOUR = 3600
LONG_AGO = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_numbers = itertools.count(1)


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TORONTO)  # type: ignore[misc]


def _save(session: Session) -> None:
    """Commit, then run the periodic pass that keeps the agents' daily rollup."""
    session.commit()
    refresh_contact_rollups(session)
    session.commit()


def _agent(session: Session, city, name: str, **fields) -> Agent:
    """An agent of ``city`` since long ago (no password: these never sign in)."""
    agent = Agent(
        email=f"agent{next(_numbers)}@city.example",
        name=name,
        jurisdictions=[city],
        presence=Presence.OFFLINE,
        created_at=LONG_AGO,
        **fields,
    )
    session.add(agent)
    session.flush()
    return agent


def _changes(session: Session, agent: Agent, *steps: tuple[dt.datetime, Presence]) -> None:
    """Presence changes as set_presence records them (each knows the state it left)."""
    previous = Presence.OFFLINE
    for at, presence in steps:
        session.add(
            PresenceChange(
                agent_id=agent.id, presence=presence.value, previous=previous.value, created_at=at
            )
        )
        previous = presence
    agent.presence = previous
    session.flush()


def _work(
    session: Session,
    city,
    queue: Queue,
    agent: Agent,
    assigned: dt.datetime,
    completed: dt.datetime | None,
    *,
    kind: WorkKind = WorkKind.FIRST_RESPONSE,
) -> WorkItem:
    item = WorkItem(
        jurisdiction_id=city.id,
        kind=kind,
        channel=Channel.SMS,
        queue_id=queue.id,
        state=WorkState.COMPLETED if completed else WorkState.ASSIGNED,
        agent_id=agent.id,
        created_at=assigned - dt.timedelta(minutes=1),
        assigned_at=assigned,
        completed_at=completed,
    )
    session.add(item)
    session.flush()
    return item


def _one(rows: list[AgentFigures], agent: Agent) -> AgentFigures:
    (row,) = [r for r in rows if r.agent_id == agent.id]
    return row


def test_a_state_set_before_the_period_counts_from_its_start(session, city):
    ann = _agent(session, city, "Ann")
    _changes(
        session,
        ann,
        (local(2025, 6, 1, 20, 0), Presence.AVAILABLE),  # the evening before
        (local(2025, 6, 2, 10, 0), Presence.AWAY),
        (local(2025, 6, 2, 12, 0), Presence.OFFLINE),
    )
    _save(session)
    row = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)), ann
    )
    assert row.seconds_by_presence == {
        "available": 10 * HOUR,
        "busy": 0,
        "away": 2 * HOUR,
        "offline": 12 * HOUR,
    }
    assert row.staffed_seconds == 10 * HOUR


def test_a_shift_across_midnight_and_the_fall_back_change(session, city):
    """1-2 November 2025 in Toronto: the second day has 25 hours."""
    ann = _agent(session, city, "Ann")
    _changes(
        session,
        ann,
        (local(2025, 11, 1, 22, 0), Presence.AVAILABLE),
        (local(2025, 11, 2, 2, 0), Presence.OFFLINE),  # 02:00 EST: three hours after midnight
    )
    _save(session)
    day = _one(
        agent_figures(session, city, start=dt.date(2025, 11, 2), end=dt.date(2025, 11, 2)), ann
    )
    assert day.seconds_by_presence["available"] == 3 * HOUR
    assert day.seconds_by_presence["offline"] == 22 * HOUR
    assert sum(day.seconds_by_presence.values()) == 25 * HOUR

    both = _one(
        agent_figures(session, city, start=dt.date(2025, 11, 1), end=dt.date(2025, 11, 2)), ann
    )
    assert both.seconds_by_presence["available"] == 5 * HOUR
    assert sum(both.seconds_by_presence.values()) == 49 * HOUR


def test_the_spring_forward_day_has_23_hours(session, city):
    ann = _agent(session, city, "Ann")
    _changes(session, ann, (local(2025, 3, 8, 9, 0), Presence.AVAILABLE))
    _save(session)
    row = _one(
        agent_figures(session, city, start=dt.date(2025, 3, 9), end=dt.date(2025, 3, 9)), ann
    )
    assert row.seconds_by_presence["available"] == 23 * HOUR


def test_occupancy_is_the_time_holding_any_work_over_the_staffed_time(session, city):
    queue = make_queue(session, city)
    ann = _agent(session, city, "Ann")
    _changes(
        session,
        ann,
        (local(2025, 6, 2, 9, 0), Presence.AVAILABLE),
        (local(2025, 6, 2, 13, 0), Presence.BUSY),
        (local(2025, 6, 2, 17, 0), Presence.OFFLINE),
    )
    day = (2025, 6, 2)
    _work(session, city, queue, ann, local(*day, 9, 0), local(*day, 10, 0))
    _work(session, city, queue, ann, local(*day, 9, 30), local(*day, 10, 30))  # two at once
    _work(session, city, queue, ann, local(*day, 9, 40), local(*day, 9, 50))  # inside them
    _work(session, city, queue, ann, local(*day, 13, 0), local(*day, 13, 30))
    _work(
        session, city, queue, ann, local(*day, 15, 0), local(*day, 16, 0), kind=WorkKind.ESCALATION
    )
    _work(session, city, queue, ann, local(2025, 6, 1, 23, 30), local(*day, 0, 30))  # yesterday's
    _save(session)

    row = _one(agent_figures(session, city, start=dt.date(*day), end=dt.date(*day)), ann)
    assert row.staffed_seconds == 8 * HOUR
    # 9:00-10:30, 13:00-13:30, 15:00-16:00 and the half hour after midnight.
    assert row.occupied_seconds == 3.5 * HOUR
    assert row.occupancy == pytest.approx(3.5 / 8)
    # Contacts finished in the day: the four of the day and yesterday's (one hour each).
    assert row.handled == 5
    assert row.handle_seconds == (1 + 1 + 1 / 6 + 0.5 + 1) * HOUR
    assert row.aht_seconds == pytest.approx(row.handle_seconds / 5)


def test_work_still_held_counts_until_now_and_occupancy_never_passes_one(session, city):
    queue = make_queue(session, city)
    ann = _agent(session, city, "Ann")
    _changes(
        session,
        ann,
        (local(2025, 6, 2, 9, 0), Presence.AVAILABLE),
        (local(2025, 6, 2, 10, 0), Presence.AWAY),
    )
    _work(session, city, queue, ann, local(2025, 6, 2, 9, 0), None)  # never finished
    _save(session)
    row = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)), ann
    )
    assert row.occupied_seconds == 15 * HOUR  # to the end of the day
    assert row.occupancy == 1.0
    assert row.handled == 0 and row.aht_seconds is None


def test_offers_by_what_became_of_them(session, city, other_city):
    queue = make_queue(session, city)
    elsewhere = make_queue(session, other_city)
    ann = _agent(session, city, "Ann")
    ann.jurisdictions.append(other_city)
    item = _work(session, city, queue, ann, local(2025, 6, 2, 9, 0), local(2025, 6, 2, 9, 5))
    foreign = WorkItem(
        jurisdiction_id=other_city.id,
        kind=WorkKind.CALL,
        channel=Channel.VOICE,
        queue_id=elsewhere.id,
    )
    session.add(foreign)
    session.flush()
    at = local(2025, 6, 2, 8, 0)
    states = [
        OfferState.ACCEPTED,
        OfferState.DECLINED,
        OfferState.DECLINED,
        OfferState.TIMED_OUT,
        OfferState.CANCELLED,
    ]
    for state in states:
        session.add(
            Offer(
                jurisdiction_id=city.id,
                work_item_id=item.id,
                agent_id=ann.id,
                state=state,
                created_at=at,
                expires_at=at + dt.timedelta(minutes=1),
            )
        )
    session.add_all(
        [
            Offer(  # the day before: another period's
                jurisdiction_id=city.id,
                work_item_id=item.id,
                agent_id=ann.id,
                state=OfferState.TIMED_OUT,
                created_at=local(2025, 6, 1, 23, 59),
                expires_at=local(2025, 6, 2, 0, 0),
            ),
            Offer(  # another city's work
                jurisdiction_id=other_city.id,
                work_item_id=foreign.id,
                agent_id=ann.id,
                state=OfferState.DECLINED,
                created_at=at,
                expires_at=at + dt.timedelta(minutes=1),
            ),
        ]
    )
    _save(session)
    row = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)), ann
    )
    assert (row.offers, row.accepted, row.declined, row.timed_out) == (5, 1, 2, 1)


def test_an_agent_with_no_activity_is_listed_with_nothing(session, city):
    idle = _agent(session, city, "Idle")
    _save(session)
    row = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)), idle
    )
    assert row.seconds_by_presence["offline"] == 24 * HOUR
    assert row.staffed_seconds == 0
    assert row.occupancy is None and row.aht_seconds is None
    assert (row.handled, row.handle_seconds, row.offers) == (0, 0, 0)
    assert row.as_dict()["occupancy"] is None


def test_time_before_an_agent_existed_is_not_counted(session, city):
    new = _agent(session, city, "New")
    new.created_at = local(2025, 6, 2, 18, 0)
    _changes(session, new, (local(2025, 6, 2, 20, 0), Presence.AVAILABLE))
    _save(session)
    row = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)), new
    )
    assert row.seconds_by_presence == {
        "available": 4 * HOUR,
        "busy": 0,
        "away": 0,
        "offline": 2 * HOUR,
    }


def test_an_empty_period_and_a_period_still_to_come(session, city):
    assert agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 3)) == []
    ann = _agent(session, city, "Ann")
    _changes(session, ann, (local(2025, 6, 1, 9, 0), Presence.AVAILABLE))
    _save(session)
    future = dt.date.today() + dt.timedelta(days=30)
    row = _one(agent_figures(session, city, start=future, end=future), ann)
    assert sum(row.seconds_by_presence.values()) == 0
    assert row.occupancy is None


def test_only_the_jurisdictions_agents_and_those_asked_for(session, city, other_city):
    ann = _agent(session, city, "Ann")
    bob = _agent(session, city, "Bob")
    _agent(session, other_city, "Zed")
    gone = _agent(session, city, "Gone", active=False)
    worked = _agent(session, city, "Left", active=False)
    _changes(session, worked, (local(2025, 6, 2, 9, 0), Presence.AVAILABLE))
    _save(session)
    day = dt.date(2025, 6, 2)
    rows = agent_figures(session, city, start=day, end=day)
    assert [r.name for r in rows] == ["Ann", "Bob", "Left"]  # another city's, and idle and gone
    assert gone.id not in {r.agent_id for r in rows}
    only = agent_figures(session, city, start=day, end=day, agent_ids=[bob.id, ann.id])
    assert [r.agent_id for r in only] == [ann.id, bob.id]


def test_the_query_count_does_not_grow_with_agents_or_history(session, city, count_queries):
    queue = make_queue(session, city)

    def add_agents(count: int) -> None:
        for n in range(count):
            agent = _agent(session, city, f"Agent {n:03d}")
            _changes(
                session,
                agent,
                (local(2025, 6, 1, 9, 0), Presence.AVAILABLE),
                (local(2025, 6, 2, 9, 0), Presence.BUSY),
                (local(2025, 6, 2, 17, 0), Presence.OFFLINE),
            )
            _work(session, city, queue, agent, local(2025, 6, 2, 9, 0), local(2025, 6, 2, 9, 30))
        _save(session)

    day = dt.date(2025, 6, 2)
    add_agents(2)
    session.expire_all()
    with count_queries() as small:
        assert len(agent_figures(session, city, start=day, end=day)) == 2
    add_agents(30)
    session.expire_all()
    with count_queries() as large:
        rows = agent_figures(session, city, start=day, end=day)
    assert len(rows) == 32
    assert large.count == small.count <= 5
    assert all(r.occupancy == pytest.approx(0.5 / 17) for r in rows)  # 9 h + 8 h staffed


def test_every_figure_has_a_definition():
    shown = set(AgentFigures(0, "", {}, 0, 0, 0, None, None, 0, 0, 0, 0).as_dict())
    assert shown - {"agent_id", "name", "accepted", "declined", "timed_out"} <= set(
        AGENT_DEFINITIONS
    )


def _daily_rows(session: Session, city) -> list[tuple]:
    return [
        tuple(row)
        for row in session.execute(
            sa.select(
                AgentDaily.agent_id, AgentDaily.day, *[AgentDaily.__table__.c[n] for n in COLUMNS]
            )
            .where(AgentDaily.jurisdiction_id == city.id)
            .order_by(AgentDaily.agent_id, AgentDaily.day)
        )
    ]


def test_work_held_across_midnight_is_split_between_the_days(session, city):
    queue = make_queue(session, city)
    ann = _agent(session, city, "Ann")
    _work(session, city, queue, ann, local(2025, 6, 1, 23, 0), local(2025, 6, 2, 1, 30))
    _work(session, city, queue, ann, local(2025, 6, 1, 23, 30), local(2025, 6, 2, 0, 15))
    _save(session)
    first = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 1)), ann
    )
    second = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 2), end=dt.date(2025, 6, 2)), ann
    )
    assert first.occupied_seconds == 1 * HOUR
    assert second.occupied_seconds == 1.5 * HOUR
    # Handled on the day finished, with all of its time.
    assert (first.handled, second.handled) == (0, 2)
    assert second.handle_seconds == 2.5 * HOUR + 0.75 * HOUR
    both = _one(
        agent_figures(session, city, start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 2)), ann
    )
    assert both.occupied_seconds == 2.5 * HOUR


def test_a_periodic_pass_after_changes_gives_what_a_rebuild_gives(session, city):
    queue = make_queue(session, city)
    ann = _agent(session, city, "Ann")
    bob = _agent(session, city, "Bob")
    now = utcnow()
    held = _work(session, city, queue, ann, now - dt.timedelta(hours=30), None)
    done = _work(
        session, city, queue, bob, now - dt.timedelta(hours=3), now - dt.timedelta(hours=2)
    )
    _work(
        session, city, queue, bob, now - dt.timedelta(days=3), now - dt.timedelta(days=3, hours=-1)
    )
    _save(session)  # the first pass: everything
    assert _daily_rows(session, city)

    # Later: the held work is finished, Bob's is moved to Ann, new work and offers arrive.
    held.state, held.completed_at = WorkState.COMPLETED, now - dt.timedelta(minutes=5)
    done.agent_id = ann.id
    _work(session, city, queue, bob, now - dt.timedelta(minutes=20), None)
    for state in (OfferState.ACCEPTED, OfferState.DECLINED, OfferState.TIMED_OUT):
        session.add(
            Offer(
                jurisdiction_id=city.id,
                work_item_id=held.id,
                agent_id=bob.id,
                state=state,
                created_at=now - dt.timedelta(minutes=1),
                expires_at=now,
            )
        )
    _save(session)  # a regular pass: only what changed
    refreshed = _daily_rows(session, city)
    rebuild_contact_rollups(session, city.id)
    session.commit()
    rebuilt = _daily_rows(session, city)
    # Equal, but for the time of work still held, which grew between the two by a moment.
    assert [r[:4] + r[5:] for r in refreshed] == [r[:4] + r[5:] for r in rebuilt]
    assert [r[4] for r in refreshed] == pytest.approx([r[4] for r in rebuilt], abs=1)
    today = now.astimezone(TORONTO).date()
    row = _one(agent_figures(session, city, start=today - dt.timedelta(days=3), end=today), bob)
    assert (row.offers, row.accepted, row.declined, row.timed_out) == (3, 1, 1, 1)


def test_work_taken_from_an_agent_after_the_fact_leaves_their_old_days(session, city):
    queue = make_queue(session, city)
    ann = _agent(session, city, "Ann")
    day = dt.date(2025, 6, 2)
    item = _work(session, city, queue, ann, local(2025, 6, 2, 9, 0), None)
    session.add(
        Offer(
            jurisdiction_id=city.id,
            work_item_id=item.id,
            agent_id=ann.id,
            state=OfferState.ACCEPTED,
            created_at=local(2025, 6, 2, 8, 59),
            expires_at=local(2025, 6, 2, 9, 0),
        )
    )
    _save(session)
    assert _one(agent_figures(session, city, start=day, end=day), ann).occupied_seconds == 15 * HOUR

    # Sent back to the queue: the time Ann held it is no longer hers (nor anyone's).
    item.state, item.agent_id, item.assigned_at = WorkState.WAITING, None, None
    _save(session)
    row = _one(agent_figures(session, city, start=day, end=day), ann)
    assert row.occupied_seconds == 0 and row.accepted == 1
    assert _daily_rows(session, city) == [(ann.id, day, 0, 0, 0, 1, 1, 0, 0)]
