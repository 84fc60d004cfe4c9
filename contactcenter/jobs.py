"""Background jobs: enqueued only after the transaction that asked for them commits.

A handler calls ``enqueue_after_commit(session, fn, *ids)``; a SQLAlchemy ``after_commit``
listener then puts the jobs on the rq queue, or, when no ``REDIS_URL`` is configured (the
embedded default), runs them inline. A rolled-back transaction drops its jobs, so nothing is
ever sent for a case that was not saved. Jobs take IDs, never ORM objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

OUTBOUND_QUEUE = "outbound"
DEFAULT_QUEUE = "default"
# Workers take from these in order: a resident's reply never waits behind a backlog of intake.
QUEUES = (OUTBOUND_QUEUE, DEFAULT_QUEUE)
_PENDING = "pending_jobs"


@dataclass(frozen=True)
class PendingJob:
    func: Callable[..., Any]
    args: tuple[Any, ...]
    retries: int
    queue: str = DEFAULT_QUEUE
    timeout: int | None = None
    """Seconds the job may run on a worker before rq stops it (rq's default when None).
    Inline jobs are not stopped: the process running them has no worker to do it."""


class JobRunner:
    """Where jobs go: an rq queue on Redis, or inline in this process."""

    def __init__(self, app: Flask, redis_url: str) -> None:
        self.app = app
        self.redis = Redis.from_url(redis_url) if redis_url else None
        self.queues = (
            {name: Queue(name, connection=self.redis) for name in QUEUES} if self.redis else {}
        )

    @property
    def queue(self) -> Queue | None:
        """The default queue, or None when jobs run inline."""
        return self.queues.get(DEFAULT_QUEUE)

    def submit(self, jobs: list[PendingJob]) -> None:
        """Queue ``jobs`` (one Redis round trip for all of them), or run them now."""
        if self.redis is not None:
            with self.redis.pipeline() as pipe:
                for name, queue in self.queues.items():
                    prepared = [_prepare(job) for job in jobs if job.queue == name]
                    if prepared:
                        queue.enqueue_many(prepared, pipeline=pipe)
                pipe.execute()
            return
        for job in jobs:
            try:
                with self.app.app_context():
                    job.func(*job.args)
            except Exception:
                # Inline mode: the request that queued the job has already committed; a
                # failing side effect must not turn its response into an error.
                log.exception("inline job %s failed", job.func.__name__)


def _prepare(job: PendingJob) -> Any:
    retry = Retry(max=job.retries, interval=[10, 60, 300][: job.retries]) if job.retries else None
    # Our jobs return nothing worth keeping: result_ttl=0 spares Redis a write per job.
    return Queue.prepare_data(job.func, job.args, retry=retry, result_ttl=0, timeout=job.timeout)


def enqueue_after_commit(
    session: Session,
    func: Callable[..., Any],
    *args: Any,
    retries: int = 0,
    queue: str = DEFAULT_QUEUE,
    timeout: int | None = None,
) -> None:
    session.info.setdefault(_PENDING, []).append(PendingJob(func, args, retries, queue, timeout))


def is_pending(session: Session, func: Callable[..., Any], *args: Any) -> bool:
    """Whether this transaction already asked for ``func(*args)`` (a rollback forgets it)."""
    return any(j.func is func and j.args == args for j in session.info.get(_PENDING, ()))


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy calls this for those too): not committed yet
    pending: list[PendingJob] = session.info.pop(_PENDING, [])
    if not pending:
        return
    runner: JobRunner = current_app.extensions["jobs"]
    try:
        runner.submit(pending)
    except Exception:
        # The transaction is committed and the caller must not see an error for it. What was
        # not queued stays findable: `contactcenter requeue` picks it up.
        log.exception("could not queue %s", [(j.func.__name__, j.args) for j in pending])


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def init_app(app: Flask, redis_url: str) -> JobRunner:
    runner = JobRunner(app, redis_url)
    app.extensions["jobs"] = runner
    return runner


def install_session_hooks() -> None:
    """Listen on every Session once per process (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback_soft)


def _after_rollback_soft(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        _after_rollback(session)
