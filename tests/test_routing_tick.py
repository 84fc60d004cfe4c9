"""The periodic tick as operators run it: on rq's scheduler, from the CLI, and with the demo."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from contactcenter.cases.models import Case, CaseEvent
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem
from contactcenter.routing.tick import schedule_tick, tick_job
from contactcenter.routing.work import dispatch
from tests.factories import make_available_agent, make_queue, make_work
from tests.test_cli import _invoke


def _expired_offer(app, session, jurisdiction) -> Offer:
    """An offer made two minutes ago on a queue with a 30-second timeout."""
    with app.app_context():
        queue = make_queue(session, jurisdiction, offer_timeout_seconds=30)
        make_available_agent(session, jurisdiction, [queue])
        make_work(session, jurisdiction, queue)
        session.commit()
        dispatch(session, jurisdiction.id, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
        session.commit()
    return session.scalars(sa.select(Offer)).one()


def test_the_tick_command_expires_offers(app, session, jurisdiction):
    offer = _expired_offer(app, session, jurisdiction)
    output = _invoke(app, "tick")
    assert "dispatched 1 jurisdiction" in output
    session.refresh(offer)
    assert offer.state == OfferState.TIMED_OUT


def test_a_worker_runs_the_tick_and_it_schedules_the_next(app, session, jurisdiction, redis_client):
    offer = _expired_offer(app, session, jurisdiction)
    runner = app.extensions["jobs"]
    runner.queue.enqueue(tick_job)
    with app.app_context():
        SimpleWorker(list(runner.queues.values()), connection=runner.redis).work(burst=True)
    session.refresh(offer)
    assert offer.state == OfferState.TIMED_OUT
    scheduled = ScheduledJobRegistry(queue=runner.queue).get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith("routing-tick-")


def test_many_workers_seeding_the_tick_schedule_it_once(app, redis_client):
    runner = app.extensions["jobs"]
    for _ in range(5):
        schedule_tick(runner, seconds=60)
    assert len(ScheduledJobRegistry(queue=runner.queue).get_job_ids()) == 1


def test_the_demo_routes_a_text_to_its_queues(app, session, send_sms, run_jobs):
    _invoke(app, "demo")
    send_sms("Water leak at Bank and Somerset", to="+16135550311")
    run_jobs()
    case = session.scalars(sa.select(Case)).one()
    assert (case.routing_rule, str(case.priority)) == ("Water leaks are urgent", "urgent")
    item = session.scalars(sa.select(WorkItem)).one()
    assert session.get_one(Queue, item.queue_id).code == "streets"
    assert (
        session.scalars(sa.select(CaseEvent.data).where(CaseEvent.kind == "sla_started")).one()[
            "policy"
        ]
        == "urgent"
    )
