"""The contact rollups as the running system keeps them: refreshed by the routing tick at most
every 30 seconds, from work that went through the real routing code, and safe with two
workers at once (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from contactcenter.db import get_db, utcnow
from contactcenter.messages import Channel
from contactcenter.performance import contacts
from contactcenter.performance.contact_figures import contact_figures
from contactcenter.performance.contacts import (
    REFRESH_SECONDS,
    WATERMARK,
    rebuild_contact_rollups,
    refresh_contact_rollups,
)
from contactcenter.performance.models import ContactInterval, RollupWatermark
from contactcenter.routing.tick import run_tick
from contactcenter.routing.work import claim_next, complete_work, release_case_work
from tests.factories import make_available_agent, make_case, make_queue, make_work


def _offered(session, city) -> int:
    """Offered contacts of the last two days (whatever the local date is now)."""
    today = utcnow().date()
    report = contact_figures(
        session, city, start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=1)
    )
    return report.totals.offered


def _push_watermark_back(session, seconds: float) -> None:
    session.execute(
        sa.update(RollupWatermark)
        .where(RollupWatermark.name == WATERMARK)
        .values(value=utcnow() - dt.timedelta(seconds=seconds))
    )
    session.commit()


def test_the_routing_tick_refreshes_the_figures_at_most_every_30_seconds(
    app, session, jurisdiction, run_jobs
):
    queue = make_queue(session, jurisdiction)
    make_work(session, jurisdiction, queue)
    session.commit()
    with app.app_context():  # the tick's commit queues jobs
        run_tick(session)  # the first pass ever reads everything: a job after the tick's commit
        assert session.scalar(sa.select(sa.func.count()).select_from(ContactInterval)) == 0
        session.commit()
        run_jobs()
        assert _offered(session, jurisdiction) == 1

        make_work(session, jurisdiction, queue)
        session.commit()
        run_tick(session)  # a few seconds later: not due yet
        session.commit()
        assert _offered(session, jurisdiction) == 1

        _push_watermark_back(session, REFRESH_SECONDS + 1)
        run_tick(session)
        session.commit()
        assert _offered(session, jurisdiction) == 2


def test_work_through_the_routing_code_is_counted_as_defined(session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    handled = make_work(session, jurisdiction, queue)
    session.commit()
    taken = claim_next(session, agent)
    assert taken is not None and taken.id == handled.id
    complete_work(session, handled.id, agent)
    session.commit()
    case = make_case(session, jurisdiction, channel=Channel.SMS)
    make_work(session, jurisdiction, queue, case=case)
    session.commit()
    release_case_work(session, case)  # resolved before anyone took it: withdrawn
    session.commit()
    refresh_contact_rollups(session)
    session.commit()
    today = utcnow().date()
    t = contact_figures(
        session, jurisdiction, start=today - dt.timedelta(days=1), end=today + dt.timedelta(days=1)
    ).totals
    assert (t.offered, t.answered, t.handled, t.abandoned) == (2, 1, 1, 0)
    assert t.answered_in_target == 1  # an SMS answered within 15 minutes
    assert t.aht_seconds is not None and t.aht_seconds >= 0


def _postgres_only(app: Flask) -> None:
    if get_db(app).engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no second worker to race")


def test_a_second_worker_skips_the_refresh_another_is_running(app, session, jurisdiction):
    _postgres_only(app)
    queue = make_queue(session, jurisdiction)
    make_work(session, jurisdiction, queue)
    session.commit()
    with get_db(app).session() as first:
        assert refresh_contact_rollups(first) == {jurisdiction.id}  # held open
        started = time.monotonic()
        assert refresh_contact_rollups(session) == set()  # does not wait for it
        assert time.monotonic() - started < 2
        session.commit()
        first.commit()
    assert _offered(session, jurisdiction) == 1


def test_a_rebuild_waits_for_a_refresh_of_the_same_jurisdiction(app, session, jurisdiction):
    _postgres_only(app)
    queue = make_queue(session, jurisdiction)
    make_work(session, jurisdiction, queue)
    session.commit()
    refresh_contact_rollups(session)
    session.commit()
    make_work(session, jurisdiction, queue)
    session.commit()
    with get_db(app).session() as first:
        assert refresh_contact_rollups(first) == {jurisdiction.id}  # holds the city's lock
        session.execute(sa.text("SET lock_timeout = '200ms'"))
        with pytest.raises(OperationalError):
            rebuild_contact_rollups(session, jurisdiction.id)
        session.rollback()

        done = threading.Event()

        def rebuild_when_free() -> None:
            with get_db(app).session() as other:
                rebuild_contact_rollups(other, jurisdiction.id)
                other.commit()
            done.set()

        worker = threading.Thread(target=rebuild_when_free)
        worker.start()
        time.sleep(0.3)
        assert not done.is_set()
        first.commit()
        worker.join(10)
        assert done.is_set()
    assert _offered(session, jurisdiction) == 2
    assert session.scalar(sa.select(sa.func.sum(ContactInterval.offered))) == 2


def test_work_committed_long_after_it_was_written_is_still_counted(
    app, session, jurisdiction, monkeypatch
):
    """A transaction open across passes writes ``updated_at`` long before it commits; the
    watermark waits for it (PostgreSQL), so the pass after its commit still sees it."""
    _postgres_only(app)
    queue = make_queue(session, jurisdiction)
    refresh_contact_rollups(session)  # the first pass: everything so far
    session.commit()
    with get_db(app).session() as slow:
        make_work(slow, jurisdiction, queue)
        slow.flush()  # written (updated_at now) but not committed
        # Five minutes go by (more than the overlap) and a pass runs meanwhile.
        start = utcnow()
        monkeypatch.setattr(contacts, "utcnow", lambda: start + dt.timedelta(minutes=5))
        refresh_contact_rollups(session)
        session.commit()
        slow.commit()
    monkeypatch.setattr(contacts, "utcnow", lambda: start + dt.timedelta(minutes=10))
    refresh_contact_rollups(session)
    session.commit()
    assert _offered(session, jurisdiction) == 1
