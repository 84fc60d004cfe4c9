"""What the core does with inbound mail, whatever road it came by (SMTP or a webhook).

Mail is stored raw first (:func:`store_raw_email`) and filed after, in a job: a parsed
message becomes an interaction handed to the intake (:func:`file_email`), a delivery report
marks addresses undeliverable (:func:`file_report`), and anything that cannot be processed is
quarantined whole for an administrator (:func:`quarantine`), never dropped.

The functions take a session and flush; the caller commits (the one exception is said so).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.db import utcnow
from contactcenter.errors import Conflict
from contactcenter.intake import IntakeOptions, IntakeResult, receive_inbound
from contactcenter.jurisdictions.directory import AddressDirectory
from contactcenter.mail.models import Attachment, RawEmail, RawEmailState
from contactcenter.messages import Channel, ContactKind, Direction, InboundMessage
from contactcenter.residents.addresses import normalize_email
from contactcenter.residents.models import ContactPoint

MAX_ERROR_CHARS = 2000
MAX_PROVIDER_ID = 128
BOUNCED = "bounced"
COMPLAINT = "complaint"

QUEUE_PROCESSING = "email_processing"
"""``app.extensions`` key of the email channel's ``(session, raw_id) -> None`` that queues a
raw message's processing for after the commit: how the core retries quarantined mail
without knowing the channel's parser."""
QueueProcessing = Callable[[Session, int], None]

ReportKind = str
"""``bounce``, ``delay``, ``complaint``, ``receipt`` or ``other`` (the parser's kinds)."""


@dataclass(frozen=True)
class NewAttachment:
    """A file found in a message, as the channel read it."""

    filename: str
    declared_type: str
    content_type: str
    """Sniffed from the bytes; the sender's claim is ``declared_type``."""
    data: bytes
    dropped_reason: str = ""
    """Why the bytes are not kept (too large): the row then only records that it existed."""


def store_raw_email(
    session: Session, *, data: bytes, recipient: str, envelope_from: str, source: str
) -> RawEmail:
    """Keep one delivered message exactly as it arrived, for the jurisdiction owning
    ``recipient``. Flushes, does not commit.

    :raises NotFound: no jurisdiction has ``recipient`` as its email address.
    """
    directory: AddressDirectory = current_app.extensions["directory"]
    jurisdiction_id = directory.jurisdiction_id(session, Channel.EMAIL, recipient)
    raw = RawEmail(
        jurisdiction_id=jurisdiction_id,
        source=source[:16],
        envelope_from=envelope_from[:320],
        recipient=normalize_email(recipient).address[:320],
        size=len(data),
        data=data,
        state=RawEmailState.PENDING,
    )
    session.add(raw)
    session.flush()
    return raw


def file_email(
    session: Session,
    raw: RawEmail,
    message: InboundMessage,
    attachments: Sequence[NewAttachment],
    *,
    text: str,
    options: IntakeOptions | None = None,
    max_attachment_bytes: int | None = None,
) -> IntakeResult | None:
    """Record ``message`` (parsed from ``raw``) as an inbound interaction with its files and
    run the intake on it. Flushes, does not commit.

    Idempotent on the Message-ID (``message.provider_id``): a message the jurisdiction already
    has (a sender's retry, the same mail to two of its addresses) marks ``raw`` a
    DUPLICATE of the earlier interaction and returns None. Two workers filing the same
    Message-ID at once meet at the interactions' unique constraint: the insert runs in a
    savepoint, so the loser rolls back only that, finds the winner's row and records the
    duplicate; the caller just commits. The same Message-ID sent to two *jurisdictions* is no
    duplicate: the second one's id is prefixed with its jurisdiction so each city files it.

    Files over ``max_attachment_bytes`` are recorded (name, type, size, checksum) without
    their bytes.
    """
    provider_id = _fitting(message.provider_id)
    existing = _interaction_by_provider_id(session, provider_id)
    if existing is not None and existing[1] != raw.jurisdiction_id:
        provider_id = _fitting(f"j{raw.jurisdiction_id}:{message.provider_id}")
        existing = _interaction_by_provider_id(session, provider_id)
    if existing is not None:
        _duplicate(raw, existing[0])
        return None
    message = dataclasses.replace(message, provider_id=provider_id)
    now = utcnow()
    interaction = Interaction(
        jurisdiction_id=raw.jurisdiction_id,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        provider_id=message.provider_id,
        from_address=message.from_address[:320],
        to_address=message.to_address[:320],
        body=message.body,
        media_urls=[],
        subject=message.subject[:998],
        thread_refs=list(message.thread_refs),
        automated=message.automated,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=now,
        updated_at=now,
        processed_at=now,
    )
    try:
        # Added inside the savepoint, so that its rollback also takes the row out of the
        # session (else the next query's autoflush would insert it again).
        with session.begin_nested():
            session.add(interaction)
            session.flush()
    except IntegrityError:
        again = _interaction_by_provider_id(session, message.provider_id)
        if again is None:
            raise
        _duplicate(raw, again[0])
        return None
    for found in attachments:
        session.add(
            _attachment_row(raw.jurisdiction_id, interaction.id, found, max_attachment_bytes)
        )
    raw.text = text
    raw.state = RawEmailState.FILED
    raw.interaction_id = interaction.id
    raw.processed_at = now
    raw.error = ""
    if not message.automated:
        _deliverable_again(session, raw.jurisdiction_id, message.from_address)
    # One flush at the end writes the whole intake instead of a round trip per query.
    with session.no_autoflush:
        return receive_inbound(session, interaction, options)


def _deliverable_again(session: Session, jurisdiction_id: int, address: str) -> None:
    """A person just wrote from ``address``: it receives mail, whatever a bounce said before
    (a full mailbox emptied, a resident writing in again), so our answers go there again.
    Automated mail proves nothing about a person reading it; and a spam complaint stands,
    since a From header is easily forged and "never write to me again" must hold."""
    normalized = normalize_email(address).address
    for contact in session.scalars(
        sa.select(ContactPoint).where(
            ContactPoint.jurisdiction_id == jurisdiction_id,
            ContactPoint.kind == ContactKind.EMAIL,
            ContactPoint.address == normalized,
            ContactPoint.undeliverable_at.is_not(None),
            ContactPoint.undeliverable_reason != COMPLAINT,
        )
    ):
        contact.undeliverable_at = None
        contact.undeliverable_reason = ""
    session.flush()


def _fitting(provider_id: str) -> str:
    """Message-IDs may be up to 998 characters; a longer one is keyed by its digest."""
    if len(provider_id) <= MAX_PROVIDER_ID:
        return provider_id
    return "sha256:" + hashlib.sha256(provider_id.encode("utf-8", "replace")).hexdigest()


def _interaction_by_provider_id(session: Session, provider_id: str) -> tuple[int, int] | None:
    row = session.execute(
        sa.select(Interaction.id, Interaction.jurisdiction_id).where(
            Interaction.channel == Channel.EMAIL, Interaction.provider_id == provider_id
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def _duplicate(raw: RawEmail, interaction_id: int) -> None:
    raw.state = RawEmailState.DUPLICATE
    raw.interaction_id = interaction_id
    raw.processed_at = utcnow()
    raw.error = ""


def _attachment_row(
    jurisdiction_id: int, interaction_id: int, found: NewAttachment, limit: int | None
) -> Attachment:
    dropped = found.dropped_reason
    if not dropped and limit is not None and len(found.data) > limit:
        dropped = f"larger than the {limit}-byte limit"
    return Attachment(
        jurisdiction_id=jurisdiction_id,
        interaction_id=interaction_id,
        filename=found.filename[:255],
        declared_type=found.declared_type[:255],
        content_type=(found.content_type or "application/octet-stream")[:255],
        size=len(found.data),
        sha256=hashlib.sha256(found.data).hexdigest(),
        data=None if dropped else found.data,
        dropped_reason=dropped[:200],
    )


def file_report(
    session: Session,
    raw: RawEmail,
    report_kind: ReportKind,
    failed_recipients: Iterable[str],
    original_message_id: str,
    diagnostic: str,
) -> None:
    """Act on a delivery report; reports never open a case nor get an answer.

    Anyone can send us a report naming any address, so a report is believed only about mail
    we sent: it must name the Message-ID of an outbound email of the raw mail's jurisdiction,
    and it can only concern that email's recipient (who must also be among the report's
    failed recipients when it lists any). A report naming nothing of ours is recorded
    (IGNORED) and changes nothing — else a forged bounce would silence any resident.

    A bounce about our mail marks its recipient undeliverable (no more mail goes there) and
    the outbound message FAILED. A complaint (the resident marked our mail as spam) marks the
    address undeliverable too: we must not write to them again. Delays, read receipts and
    anything else are only recorded (IGNORED). Flushes, no commit.
    """
    now = utcnow()
    original = _our_original(session, raw.jurisdiction_id, original_message_id)
    addresses: set[str] = set()
    if original is not None:
        addresses = {normalize_email(original.to_address).address}
        listed = {normalize_email(a).address for a in failed_recipients if a.strip()}
        if listed:
            addresses &= listed
    reason = diagnostic.strip()[:300] or report_kind
    raw.state = RawEmailState.IGNORED
    if original is not None and addresses:
        if report_kind == "bounce":
            _mark_undeliverable(session, raw.jurisdiction_id, addresses, reason, now)
            original.delivery_status = DeliveryStatus.FAILED
            original.error_code = BOUNCED
            raw.state = RawEmailState.BOUNCE
        elif report_kind == "complaint":
            _mark_undeliverable(session, raw.jurisdiction_id, addresses, COMPLAINT, now)
    raw.error = ""
    raw.processed_at = now
    session.flush()


def _our_original(session: Session, jurisdiction_id: int, message_id: str) -> Interaction | None:
    """The outbound email of this jurisdiction a report is about, if it is one of ours."""
    if not message_id.strip():
        return None
    return session.scalars(
        sa.select(Interaction).where(
            Interaction.channel == Channel.EMAIL,
            Interaction.provider_id == _fitting(message_id),
            Interaction.direction == Direction.OUTBOUND,
            Interaction.jurisdiction_id == jurisdiction_id,
        )
    ).one_or_none()


def _mark_undeliverable(
    session: Session, jurisdiction_id: int, addresses: set[str], reason: str, now: dt.datetime
) -> None:
    if not addresses:
        return
    session.execute(
        sa.update(ContactPoint)
        .where(
            ContactPoint.jurisdiction_id == jurisdiction_id,
            ContactPoint.kind == ContactKind.EMAIL,
            ContactPoint.address.in_(sorted(addresses)),
        )
        .values(undeliverable_at=now, undeliverable_reason=reason[:300])
        .execution_options(synchronize_session=False)
    )


def quarantine(session: Session, raw_id: int, error: str, *, count_attempt: bool = True) -> bool:
    """Set a message aside for an administrator, kept whole, with why (``error``).

    Only a PENDING message is quarantined: one that another worker filed meanwhile is left
    as it is. Returns whether it was. ``count_attempt=False`` when the caller already counted
    this attempt (it claimed the row). Flushes, no commit.
    """
    result = session.execute(
        sa.update(RawEmail)
        .where(RawEmail.id == raw_id, RawEmail.state == RawEmailState.PENDING)
        .values(
            state=RawEmailState.QUARANTINED,
            error=error[:MAX_ERROR_CHARS],
            attempts=RawEmail.attempts + (1 if count_attempt else 0),
            processed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def quarantined(
    session: Session, jurisdiction_ids: Sequence[int], *, limit: int, before_id: int | None = None
) -> list[RawEmail]:
    """Quarantined mail of these jurisdictions, newest first, a page at a time: pass the
    last id of a page as ``before_id`` for the next (keyset: new arrivals never shift it)."""
    query = sa.select(RawEmail).where(
        RawEmail.state == RawEmailState.QUARANTINED,
        RawEmail.jurisdiction_id.in_(list(jurisdiction_ids)),
    )
    if before_id is not None:
        query = query.where(RawEmail.id < before_id)
    return list(session.scalars(query.order_by(RawEmail.id.desc()).limit(limit)))


def release_for_retry(session: Session, raw: RawEmail) -> None:
    """Put a quarantined message back to be processed again (after a fix), with its count
    of attempts back to zero: the processing gives up on a message after a few starts that
    never finished, and a retry deserves as many. Flushes; the caller commits and queues
    the processing.

    :raises Conflict: the message is not quarantined.
    """
    if raw.state != RawEmailState.QUARANTINED:
        raise Conflict(f"Message {raw.id} is {raw.state}, not quarantined.", code="not_quarantined")
    raw.state = RawEmailState.PENDING
    raw.error = ""
    raw.attempts = 0
    raw.processed_at = None
    session.flush()


def pending(session: Session, *, older_than: dt.timedelta, limit: int = 1000) -> list[int]:
    """Raw mail still PENDING after ``older_than``: its processing job was lost."""
    return list(
        session.scalars(
            sa.select(RawEmail.id)
            .where(
                RawEmail.state == RawEmailState.PENDING,
                RawEmail.received_at < utcnow() - older_than,
            )
            .order_by(RawEmail.id)
            .limit(limit)
        )
    )
