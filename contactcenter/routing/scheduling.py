"""Dispatch after every change: one job per jurisdiction per transaction, after commit.

So an agent is offered work moments after a case is routed, an offer is declined, or an
agent becomes available.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.orm import Session

from contactcenter.db import get_db
from contactcenter.jobs import enqueue_after_commit, is_pending
from contactcenter.routing.work import dispatch

log = logging.getLogger(__name__)


def schedule_dispatch(session: Session, jurisdiction_ids: Iterable[int]) -> None:
    """One dispatch per jurisdiction after this transaction commits (none if it rolls back)."""
    for jurisdiction_id in jurisdiction_ids:
        if not is_pending(session, dispatch_job, jurisdiction_id):
            enqueue_after_commit(session, dispatch_job, jurisdiction_id)


def dispatch_job(jurisdiction_id: int) -> None:
    """Job: offer waiting work in one jurisdiction to available agents."""
    with get_db().session() as session:
        offers = dispatch(session, jurisdiction_id)
        session.commit()
    if offers:
        log.info("jurisdiction %s: %d offers", jurisdiction_id, len(offers))
