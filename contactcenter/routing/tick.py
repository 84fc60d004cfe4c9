"""The periodic tick: expire unanswered offers, move work on to its next target queue,
check SLA clocks, hand off web chats nobody took in time, and bring the contact-center figures
up to date (at most every :data:`~contactcenter.performance.contacts.REFRESH_SECONDS`).

It runs every few seconds on rq's scheduler (each tick schedules the next). Everything it
does is conditional and skips rows another worker holds, so any number of workers may run
it at once; without Redis, ``contactcenter serve`` runs it on a timer thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence
from contactcenter.chats.service import hand_off_overdue
from contactcenter.db import get_db, utcnow
from contactcenter.jobs import JobRunner
from contactcenter.performance.contacts import refresh_contact_rollups_if_due
from contactcenter.routing.presence import set_presence
from contactcenter.routing.scheduling import dispatch_job
from contactcenter.routing.work import advance_targets, expire_offers
from contactcenter.sla.clock import check_clocks

TICK_SECONDS = 5

log = logging.getLogger(__name__)


def run_tick(session: Session, now: dt.datetime | None = None) -> set[int]:
    """One pass of the periodic checks; returns the jurisdictions that need a dispatch.

    An agent who let an offer expire is set "away": offering them the next piece of work
    would only make another resident wait out the timeout.
    """
    now = now or utcnow()
    touched, missed = expire_offers(session, now)
    for agent_id in missed:
        agent = session.get_one(Agent, agent_id)
        if agent.presence == Presence.AVAILABLE:
            set_presence(session, agent, Presence.AWAY, reason="missed offer", now=now)
    touched |= advance_targets(session, now)
    touched |= check_clocks(session, now)
    touched |= hand_off_overdue(session, now)
    _refresh_contact_figures(session, now)
    return touched


def _refresh_contact_figures(session: Session, now: dt.datetime) -> None:
    """Recompute the contact rollups whose work changed (in a savepoint): a failure is logged
    and the routing checks are committed all the same."""
    try:
        refresh_contact_rollups_if_due(session, now)
    except SQLAlchemyError:
        log.exception("Could not refresh the contact figures; the tick goes on")


def tick_once() -> set[int]:
    """Run the checks in their own transaction, then dispatch where they changed a queue."""
    with get_db().session() as session:
        touched = run_tick(session)
        session.commit()
    for jurisdiction_id in sorted(touched):
        dispatch_job(jurisdiction_id)
    return touched


def tick_job() -> None:
    """Job: the periodic checks, then the next tick is scheduled (even if this one failed)."""
    try:
        tick_once()
    finally:
        schedule_tick(current_app.extensions["jobs"])


def schedule_tick(runner: JobRunner, seconds: int = TICK_SECONDS) -> None:
    """Put the next tick on rq's scheduler.

    The job id names the time slot, so several workers scheduling "the next tick" schedule
    the same job once, and a running tick never shares an id with the one it schedules.
    """
    queue = runner.queue
    if queue is None:
        return
    slot = int(time.time() // seconds) + 1
    queue.enqueue_at(
        dt.datetime.fromtimestamp(slot * seconds, dt.UTC),
        tick_job,
        job_id=f"routing-tick-{slot}",
        result_ttl=0,
        failure_ttl=3600,
    )
