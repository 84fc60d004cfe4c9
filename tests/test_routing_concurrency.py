"""The queue engine under real concurrency: many sessions racing on one PostgreSQL database.

Why: ``contactcenter.routing.work`` promises that no work item is ever assigned to two agents
and that no agent is offered more than their capacity, "whatever the timing", and it keeps
that promise with conditional UPDATEs, a partial unique index, ``SKIP LOCKED`` in the
periodic checks and a per-jurisdiction advisory lock. Single-session tests cannot show any
of that; only sessions that really overlap in the database can. So these tests run 50
threads, each with its own session (its own connection and transaction), on the PostgreSQL
server of the ``TEST_DATABASE_URL`` run, and then check the database and what each thread
believes it won.

SQLite serializes every writer, so it has no races of this kind to show: the racing tests
are skipped there. The tests at the end pin down fairness problems found here once (work
waiting while an agent was told there was none, an agent overbooked by a pull during a
dispatch), so they stay fixed.

Each thread keeps one session for its whole run but expires it before every step, as a
fresh request or job would see the database: the engine reads agents and items through the
identity map, and a session that lived through other steps would hand it stale attributes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from contactcenter.agents.models import Agent, Presence
from contactcenter.cases.models import Case
from contactcenter.db import get_db, make_engine
from contactcenter.errors import Conflict, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.routing import work
from contactcenter.routing.models import (
    Offer,
    OfferState,
    Queue,
    WorkItem,
    WorkKind,
    WorkState,
    agent_queues,
)
from contactcenter.routing.work import (
    Target,
    accept_offer,
    claim_next,
    complete_work,
    dispatch,
    enqueue_work,
)
from tests.factories import make_agent, make_case, make_jurisdiction, make_queue, make_work

needs_postgres = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="needs TEST_DATABASE_URL (PostgreSQL): concurrent sessions only race on a real"
    " server; SQLite runs one writer at a time",
)

THREADS = 50
ITEMS = 1_000
SMS_CAPACITY = 10
DEADLINE_SECONDS = 90.0
"""A bound on each race, so a livelock fails the test instead of hanging the suite."""


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    """Commits may look for after-commit jobs, which need the application."""
    with app.app_context():
        yield


def _make_agents(
    session: Session,
    jurisdiction: Jurisdiction,
    queue: Queue,
    count: int,
    sms_capacity: int = SMS_CAPACITY,
) -> list[int]:
    """``count`` available agents in ``queue``, SMS capacity ``SMS_CAPACITY``.

    Built directly rather than with ``make_available_agent``: hashing a password costs
    0.1 s, and nothing here logs in.
    """
    agents = [
        Agent(
            email=f"racer{n}@city.example",
            name=f"Racer {n}",
            presence=Presence.AVAILABLE,
            capacity={"sms": sms_capacity},
            skills=[],
            languages=["en"],
            jurisdictions=[jurisdiction],
        )
        for n in range(count)
    ]
    session.add_all(agents)
    session.flush()
    session.execute(
        sa.insert(agent_queues), [{"agent_id": a.id, "queue_id": queue.id} for a in agents]
    )
    return [a.id for a in agents]


def _make_items(
    session: Session, jurisdiction: Jurisdiction, queue: Queue, count: int
) -> list[int]:
    """``count`` waiting first-response items, each for its own case (so accepting one also
    updates a case and the agent, as in production)."""
    items = []
    for _ in range(count):
        case = make_case(session, jurisdiction)
        items.append(
            enqueue_work(
                session,
                jurisdiction_id=jurisdiction.id,
                case=case,
                kind=WorkKind.FIRST_RESPONSE,
                channel=Channel.SMS,
                targets=[Target(queue.id, None)],
            )
        )
    session.flush()
    return [item.id for item in items]


def _live_count(session: Session, jurisdiction_id: int, states: tuple[WorkState, ...]) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(WorkItem)
            .where(WorkItem.jurisdiction_id == jurisdiction_id, WorkItem.state.in_(states))
        )
        or 0
    )


def _load(session: Session, agent_id: int) -> tuple[int, int]:
    """(assigned, assigned + pending offers) of one agent, read in ONE statement, so both
    counts come from the same snapshot (an accept moves work from one to the other)."""
    assigned = (
        sa.select(sa.func.count())
        .select_from(WorkItem)
        .where(WorkItem.agent_id == agent_id, WorkItem.state == WorkState.ASSIGNED)
        .scalar_subquery()
    )
    pending = (
        sa.select(sa.func.count())
        .select_from(Offer)
        .where(Offer.agent_id == agent_id, Offer.state == OfferState.PENDING)
        .scalar_subquery()
    )
    row = session.execute(sa.select(assigned, pending)).one()
    return int(row[0]), int(row[0]) + int(row[1])


@dataclass
class _Racer:
    """What one thread saw and did."""

    agent_id: int
    won: list[int] = field(default_factory=list)
    max_assigned: int = 0
    max_load: int = 0
    conflicts: int = 0
    dispatches: int = 0
    offers_made: int = 0
    empty_claims_while_waiting: int = 0
    double_accepts: list[int] = field(default_factory=list)
    """For each offer accepted by two sessions at once: how many of the two won."""
    foreign_accepts_refused: int = 0


def _run_threads(app: Flask, racers: list[_Racer], body: Callable[[Session, _Racer], None]) -> None:
    """Run ``body`` for every racer on its own thread and connection; re-raise the first error.

    Each racer stands for an agent's own request or worker, so each gets a connection of its
    own (no pool): 50 racers queueing for the app's 20 pooled connections while the per-
    jurisdiction lock serializes them would only measure the pool's timeout.
    """
    engine = make_engine(get_db(app).engine.url.render_as_string(hide_password=False), pooled=False)
    connect = sessionmaker(bind=engine, expire_on_commit=False)

    def run(racer: _Racer) -> None:
        with app.app_context():
            session = connect()
            try:
                body(session, racer)
            finally:
                session.close()

    try:
        with ThreadPoolExecutor(max_workers=len(racers)) as pool:
            for future in [pool.submit(run, racer) for racer in racers]:
                future.result()
    finally:
        engine.dispose()


def _accept_twice_at_once(app: Flask, offer_id: int, agent_id: int) -> list[int]:
    """Two sessions accept the same offer at the same instant; the item ids each got.

    The loser's UPDATE waits on the winner's row lock and, once the winner commits,
    re-checks ``state = 'pending'`` and finds nothing to update: a Conflict.
    """
    barrier = threading.Barrier(2)

    def attempt() -> int | None:
        with app.app_context():
            session = get_db(app).session()
            try:
                agent = session.get_one(Agent, agent_id)
                barrier.wait(timeout=30)
                try:
                    item = accept_offer(session, offer_id, agent)
                except Conflict:
                    session.rollback()
                    return None
                item_id = item.id
                session.commit()
                return item_id
            finally:
                session.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: attempt(), range(2)))
    return [r for r in results if r is not None]


def _check_final_state(session: Session, item_ids: list[int], racers: list[_Racer]) -> None:
    """Every item done once, by the one agent whose thread believes it won it."""
    won_by: dict[int, int] = {}
    for racer in racers:
        for item_id in racer.won:
            assert item_id not in won_by, f"item {item_id} won by two agents"
            won_by[item_id] = racer.agent_id
    assert sum(len(r.won) for r in racers) == len(won_by)  # disjoint
    assert set(won_by) == set(item_ids)  # complete

    rows = session.execute(
        sa.select(WorkItem.id, WorkItem.state, WorkItem.agent_id, Case.assigned_agent_id)
        .join(Case, Case.id == WorkItem.case_id)
        .where(WorkItem.id.in_(item_ids))
    ).all()
    assert len(rows) == len(item_ids)
    for item_id, state, agent_id, case_agent_id in rows:
        assert state == WorkState.COMPLETED, (item_id, state)
        assert agent_id == won_by[item_id] == case_agent_id, (item_id, agent_id, case_agent_id)


@needs_postgres
def test_racing_dispatchers_and_acceptors_assign_every_item_exactly_once(
    app: Flask, session: Session, jurisdiction: Jurisdiction
) -> None:
    """50 agents, each dispatching, accepting and completing on its own session at once.

    Every thread runs ``dispatch`` itself, so 50 dispatchers overlap all the time (the
    advisory lock must serialize them); every fifth agent accepts each of its offers from
    two sessions at the same instant, and now and then a thread tries to accept another
    agent's offer. Agents keep a few items before completing them, so their capacity is
    what limits the offers for most of the run.
    """
    queue = make_queue(session, jurisdiction, offer_timeout_seconds=600)
    agent_ids = _make_agents(session, jurisdiction, queue, THREADS)
    item_ids = _make_items(session, jurisdiction, queue, ITEMS)
    session.commit()
    jid = jurisdiction.id
    racers = [_Racer(agent_id) for agent_id in agent_ids]
    deadline = time.monotonic() + DEADLINE_SECONDS

    def agent_loop(db: Session, racer: _Racer) -> None:
        rng = random.Random(racer.agent_id)
        doubles = racer.agent_id % 5 == 0
        agent = db.get_one(Agent, racer.agent_id)
        held: list[int] = []
        while time.monotonic() < deadline:
            db.expire_all()
            racer.offers_made += len(dispatch(db, jid))
            racer.dispatches += 1
            db.commit()
            mine = db.scalars(
                sa.select(Offer.id).where(
                    Offer.agent_id == racer.agent_id, Offer.state == OfferState.PENDING
                )
            ).all()
            if rng.random() < 0.05:
                _try_foreign_offer(db, agent, racer)
            db.commit()  # ends the read transaction: no connection held while accepting
            for offer_id in mine:
                if doubles:
                    winners = _accept_twice_at_once(app, offer_id, racer.agent_id)
                    racer.double_accepts.append(len(winners))
                    racer.won.extend(winners)
                    held.extend(winners)
                    continue
                try:
                    held.append(accept_offer(db, offer_id, agent).id)
                    racer.won.append(held[-1])
                    db.commit()
                except Conflict:
                    db.rollback()
                    racer.conflicts += 1
            db.expire_all()  # sub-sessions may have assigned items this session has seen
            assigned, load = _load(db, racer.agent_id)
            racer.max_assigned = max(racer.max_assigned, assigned)
            racer.max_load = max(racer.max_load, load)
            keep = rng.randint(0, SMS_CAPACITY // 2)
            for item_id in held[: max(0, len(held) - keep)]:
                complete_work(db, item_id, agent)
            held = held[max(0, len(held) - keep) :]
            db.commit()
            if _live_count(db, jid, (WorkState.WAITING, WorkState.OFFERED)) == 0:
                break
            db.commit()
            time.sleep(rng.uniform(0, 0.005))
        for item_id in held:
            complete_work(db, item_id, agent)
        db.commit()

    _run_threads(app, racers, agent_loop)

    assert time.monotonic() < deadline, "the race did not finish in time"
    print(  # shown with -rP: how hard the race was
        f"dispatches {sum(r.dispatches for r in racers)}, conflicts"
        f" {sum(r.conflicts for r in racers)}, double accepts"
        f" {sum(len(r.double_accepts) for r in racers)}, foreign accepts refused"
        f" {sum(r.foreign_accepts_refused for r in racers)}, max load"
        f" {max(r.max_load for r in racers)}"
    )
    _check_final_state(session, item_ids, racers)
    offers = dict(
        session.execute(sa.select(Offer.state, sa.func.count()).group_by(Offer.state)).all()
    )
    # Nobody declined and nothing expired: each item was offered exactly once, and accepted.
    assert offers == {OfferState.ACCEPTED: ITEMS}, offers
    accepted_per_item = session.execute(
        sa.select(Offer.work_item_id, sa.func.count())
        .where(Offer.state == OfferState.ACCEPTED)
        .group_by(Offer.work_item_id)
    ).all()
    assert {n for _, n in accepted_per_item} == {1} and len(accepted_per_item) == ITEMS
    mismatched = session.scalar(
        sa.select(sa.func.count())
        .select_from(Offer)
        .join(WorkItem, WorkItem.id == Offer.work_item_id)
        .where(Offer.state == OfferState.ACCEPTED, Offer.agent_id != WorkItem.agent_id)
    )
    assert mismatched == 0
    assert max(r.max_load for r in racers) <= SMS_CAPACITY
    assert max(r.max_assigned for r in racers) <= SMS_CAPACITY
    assert _most_held_at_once(session, item_ids) <= SMS_CAPACITY
    # The capacity really was the limit at some point (or this test would prove little).
    assert max(r.max_load for r in racers) == SMS_CAPACITY
    doubles = [n for r in racers for n in r.double_accepts]
    assert doubles and set(doubles) == {1}, Counter(doubles)
    assert sum(r.dispatches for r in racers) >= THREADS
    assert sum(r.offers_made for r in racers) == ITEMS


def _most_held_at_once(session: Session, item_ids: list[int]) -> int:
    """The most items any agent held at once over the whole run, from the recorded history.

    Sound without a shared lock: an item is only offered after the completion that made
    room was committed, and accepted after that, so its ``assigned_at`` (taken in the same
    process, on the same clock) is later than the freed item's ``completed_at``.
    """
    events: dict[int, list[tuple[float, int]]] = {}
    for agent_id, assigned_at, completed_at in session.execute(
        sa.select(WorkItem.agent_id, WorkItem.assigned_at, WorkItem.completed_at).where(
            WorkItem.id.in_(item_ids)
        )
    ):
        timeline = events.setdefault(agent_id, [])
        timeline.append((assigned_at.timestamp(), 1))
        timeline.append((completed_at.timestamp(), -1))
    most = 0
    for timeline in events.values():
        held = 0
        for _at, change in sorted(timeline):  # a completion sorts before an equal assignment
            held += change
            most = max(most, held)
    return most


def _try_foreign_offer(db: Session, agent: Agent, racer: _Racer) -> None:
    """Accepting another agent's pending offer must be refused, never half-done."""
    foreign = db.scalar(
        sa.select(Offer.id)
        .where(Offer.state == OfferState.PENDING, Offer.agent_id != agent.id)
        .limit(1)
    )
    if foreign is None:
        return
    with pytest.raises(NotFound):
        accept_offer(db, foreign, agent)
    racer.foreign_accepts_refused += 1


@needs_postgres
def test_racing_claimers_each_get_different_items_and_all_are_claimed(
    app: Flask, session: Session, jurisdiction: Jurisdiction
) -> None:
    """Pull mode: 50 agents pressing "next" at once on 1,000 waiting items."""
    queue = make_queue(session, jurisdiction)
    agent_ids = _make_agents(session, jurisdiction, queue, THREADS)
    item_ids = _make_items(session, jurisdiction, queue, ITEMS)
    session.commit()
    jid = jurisdiction.id
    racers = [_Racer(agent_id) for agent_id in agent_ids]
    deadline = time.monotonic() + DEADLINE_SECONDS

    def claimer_loop(db: Session, racer: _Racer) -> None:
        rng = random.Random(racer.agent_id)
        agent = db.get_one(Agent, racer.agent_id)
        held: list[int] = []
        while time.monotonic() < deadline:
            db.expire_all()
            item = claim_next(db, agent)
            item_id = item.id if item is not None else None
            db.commit()
            if item_id is None:
                if _live_count(db, jid, (WorkState.WAITING,)) == 0:
                    break
                db.commit()
                racer.empty_claims_while_waiting += 1
                time.sleep(rng.uniform(0, 0.005))
                continue
            racer.won.append(item_id)
            held.append(item_id)
            assigned, _load_now = _load(db, racer.agent_id)
            racer.max_assigned = max(racer.max_assigned, assigned)
            if len(held) > rng.randint(0, SMS_CAPACITY - 1):
                complete_work(db, held.pop(0), agent)
            db.commit()
        for item_id in held:
            complete_work(db, item_id, agent)
        db.commit()

    _run_threads(app, racers, claimer_loop)

    assert time.monotonic() < deadline, "the race did not finish in time"
    print(  # shown with -rP; empty claims were a bug once; see the tests below
        f"empty claims while work waited: {sum(r.empty_claims_while_waiting for r in racers)},"
        f" max assigned {max(r.max_assigned for r in racers)}"
    )
    _check_final_state(session, item_ids, racers)
    assert max(r.max_assigned for r in racers) <= SMS_CAPACITY
    assert _most_held_at_once(session, item_ids) <= SMS_CAPACITY
    assert session.scalar(sa.select(sa.func.count()).select_from(Offer)) == 0


# Known fairness problems, pinned down (strict: they fail loudly once fixed) --------------


def _waiting_items(
    session: Session,
    jurisdiction: Jurisdiction,
    queue: Queue,
    count: int,
    *,
    priority: int = 1,
    skills: tuple[str, ...] = (),
) -> list[int]:
    items = [
        enqueue_work(
            session,
            jurisdiction_id=jurisdiction.id,
            case=None,
            kind=WorkKind.FIRST_RESPONSE,
            channel=Channel.SMS,
            targets=[Target(queue.id, None)],
            priority=priority,
            skills=skills,
        )
        for _ in range(count)
    ]
    session.flush()
    return [i.id for i in items]


@needs_postgres
def test_an_agent_claiming_while_another_claims_still_gets_waiting_work(
    app: Flask, session: Session, jurisdiction: Jurisdiction
) -> None:
    queue = make_queue(session, jurisdiction)
    first, second = _make_agents(session, jurisdiction, queue, 2)
    _waiting_items(session, jurisdiction, queue, 50)
    session.commit()
    db = get_db(app)

    def second_claim() -> int | None:
        with app.app_context(), db.session() as two:
            item = claim_next(two, two.get_one(Agent, second))
            two.commit()
            return item.id if item is not None else None

    with db.session() as one:
        taken = claim_next(one, one.get_one(Agent, first))  # its transaction stays open
        assert taken is not None
        with ThreadPoolExecutor(max_workers=1) as pool:
            other = pool.submit(second_claim)
            _wait_for_a_lock_wait(session)  # the second claim waits for the first to commit
            one.commit()
            other_id = other.result(timeout=30)
    assert other_id is not None, "49 items were waiting, and the second agent got none"
    assert other_id != taken.id


def test_claim_next_finds_suitable_work_behind_unsuitable_work(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    queue = make_queue(session, jurisdiction)
    (agent_id,) = _make_agents(session, jurisdiction, queue, 1)
    _waiting_items(session, jurisdiction, queue, 50, priority=3, skills=("gas",))
    (plain,) = _waiting_items(session, jurisdiction, queue, 1)
    session.commit()
    taken = claim_next(session, session.get_one(Agent, agent_id))
    session.commit()
    assert taken is not None and taken.id == plain


def test_dispatch_offers_suitable_work_behind_a_batch_of_unsuitable_work(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    queue = make_queue(session, jurisdiction)
    (agent_id,) = _make_agents(session, jurisdiction, queue, 1)
    _waiting_items(session, jurisdiction, queue, work.DISPATCH_BATCH, priority=3, skills=("gas",))
    (plain,) = _waiting_items(session, jurisdiction, queue, 1)
    session.commit()
    offers = dispatch(session, jurisdiction.id)
    session.commit()
    assert [(o.work_item_id, o.agent_id) for o in offers] == [(plain, agent_id)]


@needs_postgres
def test_a_claim_during_a_dispatch_does_not_overbook_the_agent(
    app: Flask, session: Session, jurisdiction: Jurisdiction
) -> None:
    queue = make_queue(session, jurisdiction)
    (agent_id,) = _make_agents(session, jurisdiction, queue, 1, sms_capacity=1)
    _waiting_items(session, jurisdiction, queue, 2)
    session.commit()
    db = get_db(app)
    with db.session() as claimer:
        assert claim_next(claimer, claimer.get_one(Agent, agent_id)) is not None  # not committed

        def run_dispatch() -> int:
            with app.app_context(), db.session() as dispatcher:
                offers = dispatch(dispatcher, jurisdiction.id)
                dispatcher.commit()
                return len(offers)

        with ThreadPoolExecutor(max_workers=1) as pool:
            offered = pool.submit(run_dispatch)
            # The dispatch has read the load (nothing yet) and now waits for the claimed row.
            _wait_for_a_lock_wait(session)
            claimer.commit()
            offered.result(timeout=30)
    assigned, load = _load(session, agent_id)
    session.commit()
    assert assigned == 1
    assert load <= 1, f"capacity 1, but {load} items assigned or offered"


def _wait_for_a_lock_wait(session: Session, timeout: float = 10.0) -> None:
    """Until some session of this database waits for a row lock (deterministic interleaving)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = session.scalar(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        session.commit()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("no session ever waited for a lock")


@needs_postgres
def test_an_agent_shared_by_two_jurisdictions_is_not_overbooked_by_both(
    app: Flask, session: Session
) -> None:
    """Each jurisdiction's dispatch holds only its own lock; the shared agent's lock makes the
    second dispatch wait until the first one's offer is committed, and then count it."""
    a = make_jurisdiction(session, slug="town-a", sms_number="+16135550901")
    b = make_jurisdiction(session, slug="town-b", sms_number="+16135550902")
    queue_a, queue_b = make_queue(session, a), make_queue(session, b)
    agent, _ = make_agent(session, [a, b], presence=Presence.AVAILABLE, capacity={"sms": 1})
    session.execute(
        sa.insert(agent_queues),
        [{"agent_id": agent.id, "queue_id": q.id} for q in (queue_a, queue_b)],
    )
    for jurisdiction, queue in ((a, queue_a), (b, queue_b)):
        make_work(session, jurisdiction, queue)
    session.commit()
    db = get_db(app)

    def dispatch_b() -> int:
        with app.app_context(), db.session() as other:
            offers = dispatch(other, b.id)
            other.commit()
            return len(offers)

    with db.session() as first:
        assert len(dispatch(first, a.id)) == 1  # not committed yet
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = pool.submit(dispatch_b)
            _wait_for_a_lock_wait(session)
            first.commit()
            assert second.result(timeout=30) == 0
    pending = session.scalar(
        sa.select(sa.func.count())
        .select_from(Offer)
        .where(Offer.agent_id == agent.id, Offer.state == OfferState.PENDING)
    )
    assert pending == 1
