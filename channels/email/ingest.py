"""Inbound mail, from either road (the SMTP listener or a hosted service's webhook).

:func:`accept` only makes the message durable — one raw row per jurisdiction it was sent to
— and queues :func:`process_raw_email`. Parsing, threading and intake run in that job, one
message per job with a time limit, so a huge or malformed message delays nobody else. A
message the job cannot process is quarantined whole, never lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from channels.email.parse import ParsedEmail, parse_email, thread_refs
from contactcenter.config import Settings
from contactcenter.db import get_db
from contactcenter.errors import NotFound
from contactcenter.inbox import options_from_settings
from contactcenter.jobs import enqueue_after_commit
from contactcenter.mail.models import RawEmail, RawEmailState
from contactcenter.mail.service import (
    NewAttachment,
    file_email,
    file_report,
    pending,
    quarantine,
    store_raw_email,
)
from contactcenter.messages import Channel, InboundMessage
from contactcenter.residents.addresses import normalize_email

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 500
MAX_BODY_CHARS = 100_000
"""What agents see of a message's text at most; the raw mail keeps all of it (``text``)."""
NO_SENDER = "no sender: the message has no usable From address"
MAX_ATTEMPTS = 3
"""Starts of processing a message gets; one more and it is quarantined unparsed."""
GAVE_UP = f"gave up after {MAX_ATTEMPTS} attempts: the worker died or ran out of time"


def _settings() -> Settings:
    settings: Settings = current_app.config["SETTINGS"]
    return settings


def accept(
    session: Session, *, data: bytes, recipients: Iterable[str], envelope_from: str, source: str
) -> list[RawEmail]:
    """Store ``data`` once for each recipient a jurisdiction owns, commit, and queue each
    one's processing. Recipients nobody owns are skipped.

    :raises NotFound: no recipient is owned (nothing was stored).
    """
    stored: list[RawEmail] = []
    seen: set[str] = set()
    for recipient in recipients:
        address = normalize_email(recipient).address
        if address in seen:
            continue
        seen.add(address)
        try:
            stored.append(
                store_raw_email(
                    session,
                    data=data,
                    recipient=address,
                    envelope_from=envelope_from,
                    source=source,
                )
            )
        except NotFound:
            continue
    if not stored:
        session.rollback()
        raise NotFound("No jurisdiction here has that email address.", code="unknown_recipient")
    for raw in stored:
        queue_processing(session, raw.id)
    session.commit()
    return stored


def queue_processing(session: Session, raw_id: int) -> None:
    """Queue :func:`process_raw_email` for when ``session`` commits: no retries (a failure
    quarantines the message for a person to look at), and the configured time limit."""
    enqueue_after_commit(
        session, process_raw_email, raw_id, retries=0, timeout=_settings().email_process_seconds
    )


def process_raw_email(raw_id: int) -> None:
    """Job: parse one stored message and file it (a resident's mail, or a delivery report).

    Any failure — a parser crash, a database error, rq stopping the job at its time limit —
    rolls back and quarantines the message in a fresh transaction, with the error's type and
    message. A message already filed (a duplicated job) is left alone.

    A failure nothing can catch (the work-horse killed for its memory, or stuck in C code
    past the time limit) leaves the message PENDING, and ``requeue`` would queue it forever:
    so each start is counted and committed before the parsing, and a message that already
    had :data:`MAX_ATTEMPTS` starts is quarantined without being parsed again.
    """
    with get_db().session() as session:
        if not _start_attempt(session, raw_id):
            return
        try:
            _process(session, raw_id)
        except Exception as exc:
            session.rollback()
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            log.warning("raw email %s quarantined: %s", raw_id, error, exc_info=True)
            _quarantine_apart(raw_id, error)


def _start_attempt(session: Session, raw_id: int) -> bool:
    """Count this start, committed on its own; False when there is nothing to parse (the
    message was processed already, or it was quarantined here for too many starts)."""
    started = session.execute(
        sa.update(RawEmail)
        .where(
            RawEmail.id == raw_id,
            RawEmail.state == RawEmailState.PENDING,
            RawEmail.attempts < MAX_ATTEMPTS,
        )
        .values(attempts=RawEmail.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if started.rowcount:  # type: ignore[attr-defined]
        session.commit()
        return True
    if quarantine(session, raw_id, GAVE_UP, count_attempt=False):
        log.warning("raw email %s quarantined: %s", raw_id, GAVE_UP)
    session.commit()
    return False


def _quarantine_apart(raw_id: int, error: str) -> None:
    with get_db().session() as session:
        quarantine(session, raw_id, error, count_attempt=False)
        session.commit()


def _process(session: Session, raw_id: int) -> None:
    settings = _settings()
    data = session.scalar(
        sa.select(RawEmail.data).where(
            RawEmail.id == raw_id, RawEmail.state == RawEmailState.PENDING
        )
    )
    if data is None:
        return  # filed already, or gone
    # Nothing is held while parsing: a slow message locks no row and no connection.
    session.rollback()
    # Attachments are parsed whole: the filing records a file over the size limit with its
    # size and checksum, and drops its bytes.
    parsed = parse_email(data)
    for attempt in range(2):
        try:
            outcome = _file(session, raw_id, data, parsed, settings)
            session.commit()
            log.info("raw email %s: %s", raw_id, outcome)
            return
        except IntegrityError:
            # Two first messages from one new resident at once: the loser runs again and
            # finds the winner's resident.
            session.rollback()
            if attempt:
                raise


def _claim(session: Session, raw_id: int) -> RawEmail | None:
    """Take the row for this transaction: a second job for the same message waits here
    until the first commits, then finds it no longer pending. (The attempt was counted
    before the parsing, so the update changes nothing but takes the lock.)"""
    claimed = session.execute(
        sa.update(RawEmail)
        .where(RawEmail.id == raw_id, RawEmail.state == RawEmailState.PENDING)
        .values(attempts=RawEmail.attempts)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    return session.scalars(
        sa.select(RawEmail)
        .where(RawEmail.id == raw_id)
        .options(undefer(RawEmail.text))
        .execution_options(populate_existing=True)
    ).one()


def _file(
    session: Session, raw_id: int, data: bytes, parsed: ParsedEmail, settings: Settings
) -> str:
    raw = _claim(session, raw_id)
    if raw is None:
        return "already processed"
    report = parsed.report
    if report is not None:
        file_report(
            session,
            raw,
            report.kind,
            report.failed_recipients,
            report.original_message_id,
            report.diagnostic,
        )
        raw.text = parsed.text
        return f"{report.kind} report"
    sender = normalize_email(parsed.from_address)
    if not sender.is_valid:
        quarantine(session, raw.id, NO_SENDER, count_attempt=False)
        return "quarantined (no sender)"
    message = InboundMessage(
        channel=Channel.EMAIL,
        provider_id=parsed.message_id or "sha256:" + hashlib.sha256(data).hexdigest(),
        from_address=sender.address,
        to_address=raw.recipient,
        body=(parsed.reply_text or parsed.text)[:MAX_BODY_CHARS],
        subject=parsed.subject,
        thread_refs=thread_refs(parsed),
        automated=parsed.automated,
    )
    attachments = [
        NewAttachment(
            filename=found.filename,
            declared_type=found.declared_type,
            content_type=found.content_type,
            data=found.data,
        )
        for found in parsed.attachments
    ]
    result = file_email(
        session,
        raw,
        message,
        attachments,
        text=parsed.text,
        options=options_from_settings(settings),
        max_attachment_bytes=settings.email_attachment_max_bytes,
    )
    if result is None:
        return f"duplicate of interaction {raw.interaction_id}"
    case = result.case.id if result.case is not None else None
    return f"{result.outcome} interaction={result.interaction.id} case={case}"


def requeue_pending(session: Session, *, older_than: dt.timedelta) -> list[int]:
    """Queue processing again for mail stuck PENDING (its job was lost: Redis was down
    between the commit and the enqueue, or a worker died). Safe at any time: a job for a
    message already processed does nothing, quarantined mail is not PENDING (only an
    administrator's retry releases it), and a message whose starts keep killing the worker
    is quarantined by its job after :data:`MAX_ATTEMPTS`. Commits."""
    ids = pending(session, older_than=older_than)
    for raw_id in ids:
        queue_processing(session, raw_id)
    session.commit()
    return ids
