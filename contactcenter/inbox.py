"""The inbox: an inbound message is stored first and processed second.

A webhook only has to make the message durable: :func:`accept_and_commit` checks which
jurisdiction owns the address, inserts the raw interaction (the unique provider id makes a
provider's retry a no-op), commits and queues :func:`process_inbound`. The intake proper —
resident, keywords, conversation, case, classification, routing, acknowledgement — runs in that
job. Why:

- the provider gets its answer in a couple of milliseconds, so a burst of texts during a storm
  never times out and never turns into a storm of retries;
- a message once accepted is never lost: if processing fails it stays in the inbox, is retried
  by rq, and ``contactcenter inbox requeue`` finds anything left unprocessed;
- web and worker processes scale separately.

Without Redis (the embedded default) the job runs inline right after the commit, so a
resident's text is still fully handled before the webhook answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.config import Settings
from contactcenter.db import get_db, utcnow
from contactcenter.intake import IntakeOptions, IntakeResult, receive_inbound
from contactcenter.jobs import enqueue_after_commit
from contactcenter.jurisdictions.directory import AddressDirectory
from contactcenter.messages import Direction, InboundMessage

log = logging.getLogger(__name__)

PROCESS_RETRIES = 3
_INTERACTIONS: sa.Table = Interaction.__table__  # type: ignore[assignment]
_INSERT_INBOUND = _INTERACTIONS.insert().returning(_INTERACTIONS.c.id)


@dataclass(frozen=True)
class Acceptance:
    interaction_id: int
    duplicate: bool


def directory() -> AddressDirectory:
    found: AddressDirectory = current_app.extensions["directory"]
    return found


def accept_and_commit(session: Session, message: InboundMessage) -> Acceptance:
    """Store ``message`` and queue its processing, in one committed transaction.

    :raises NotFound: no jurisdiction owns the address the message was sent to.
    """
    for attempt in range(2):
        jurisdiction_id = directory().jurisdiction_id(session, message.channel, message.to_address)
        try:
            # A plain INSERT ... RETURNING, built once: the webhook's one statement skips the
            # ORM's unit of work, which costs more CPU than the insert itself.
            interaction_id: int = (
                session.connection()
                .execute(_INSERT_INBOUND, _inbound_values(message, jurisdiction_id))
                .scalar_one()
            )
            break
        except IntegrityError:
            session.rollback()
            # The provider retried a message we already have (the unique provider id)...
            existing = session.scalar(
                sa.select(Interaction.id).where(
                    Interaction.channel == message.channel,
                    Interaction.provider_id == message.provider_id,
                )
            )
            if existing is not None:
                return Acceptance(existing, duplicate=True)
            # ...or the cached owner of the address is gone: look it up afresh, once.
            directory().forget(message.channel, message.to_address)
            if attempt:
                raise
    enqueue_after_commit(session, process_inbound, interaction_id, retries=PROCESS_RETRIES)
    session.commit()
    return Acceptance(interaction_id, duplicate=False)


def _inbound_values(message: InboundMessage, jurisdiction_id: int) -> dict[str, Any]:
    now = utcnow()
    return {
        "jurisdiction_id": jurisdiction_id,
        "channel": message.channel,
        "direction": Direction.INBOUND,
        "provider_id": message.provider_id,
        "from_address": message.from_address,
        "to_address": message.to_address,
        "body": message.body,
        "media_urls": list(message.media_urls),
        "latitude": message.latitude,
        "longitude": message.longitude,
        "subject": message.subject[:998],
        "thread_refs": list(message.thread_refs),
        "automated": message.automated,
        "delivery_status": DeliveryStatus.RECEIVED,
        "created_at": now,
        "updated_at": now,
    }


def options_from_settings(settings: Settings) -> IntakeOptions:
    return IntakeOptions(
        conversation_window=dt.timedelta(minutes=settings.sms_conversation_minutes),
        keyword_replies=settings.sms_keyword_replies,
        email_ack_limit_per_hour=settings.email_ack_limit_per_hour,
    )


def process_inbound(interaction_id: int) -> None:
    """Job: run the intake on one stored inbound message, exactly once.

    The row is locked while it is processed and marked when done, so a duplicated or retried
    job finds nothing left to do. Two first messages from one new resident, processed by two
    workers at once, meet at a unique constraint: the loser rolls back and runs again, and then
    finds the winner's resident.
    """
    options = options_from_settings(current_app.config["SETTINGS"])
    with get_db().session() as session:
        for attempt in range(2):
            try:
                result = _process(session, interaction_id, options)
                session.commit()
                if result is not None:
                    log.info(
                        "inbound %s: %s case=%s",
                        interaction_id,
                        result.outcome,
                        result.case.id if result.case else None,
                    )
                return
            except IntegrityError:
                session.rollback()
                if attempt:
                    raise


def _process(session: Session, interaction_id: int, options: IntakeOptions) -> IntakeResult | None:
    interaction = session.scalars(
        sa.select(Interaction)
        .where(Interaction.id == interaction_id, Interaction.processed_at.is_(None))
        .with_for_update()
    ).one_or_none()
    if interaction is None:
        return None  # processed already (a retried or duplicated job)
    # One flush at the end writes the whole intake (resident, case, events, reply, and this
    # message's links) instead of a round trip each time a query would autoflush.
    with session.no_autoflush:
        interaction.processed_at = utcnow()  # rolled back with the rest if the intake fails
        return receive_inbound(session, interaction, options)


def unprocessed(session: Session, *, older_than: dt.timedelta, limit: int = 1000) -> Sequence[int]:
    """Inbound messages accepted but still not processed after ``older_than``."""
    return session.scalars(
        sa.select(Interaction.id)
        .where(
            Interaction.direction == Direction.INBOUND,
            Interaction.processed_at.is_(None),
            Interaction.created_at < utcnow() - older_than,
        )
        .order_by(Interaction.id)
        .limit(limit)
    ).all()


def requeue_unprocessed(session: Session, *, older_than: dt.timedelta) -> list[int]:
    """Queue processing again for messages stuck in the inbox (for example after a Redis
    outage between a webhook's commit and its enqueue). Safe to run at any time: processing
    is idempotent."""
    ids = list(unprocessed(session, older_than=older_than))
    for interaction_id in ids:
        enqueue_after_commit(session, process_inbound, interaction_id, retries=PROCESS_RETRIES)
    session.commit()
    return ids
