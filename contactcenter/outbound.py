"""Messages to residents: queued as interactions, delivered by a job, tracked to delivery.

``queue_message`` records the outbound interaction and asks for ``deliver_interaction`` to run
after commit. The job claims the interaction (queued -> sending) with one conditional UPDATE,
so a retried or duplicated job can never send the same message twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.chats.models import ChatSession
from contactcenter.db import get_db, utcnow
from contactcenter.errors import Invalid, NotFound
from contactcenter.jobs import OUTBOUND_QUEUE, enqueue_after_commit
from contactcenter.jurisdictions.service import owned_address
from contactcenter.mail.threads import outbound_headers
from contactcenter.messages import (
    CONTACT_KIND_OF_CHANNEL,
    Channel,
    ChannelAdapter,
    ContactKind,
    DeliveryError,
    Direction,
    OutboundMessage,
)
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.sla.clock import record_first_response

log = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's limit for one (multi-segment) SMS
MAX_EMAIL_BODY = 100_000  # a chat transcript by email can be long
DELIVERY_RETRIES = 3

# The channel a reply to each kind of contact point goes out on (a phone number gets a text).
REPLY_CHANNEL_OF_KIND = {ContactKind.PHONE: Channel.SMS, ContactKind.EMAIL: Channel.EMAIL}

# Callbacks can arrive out of order; a status only ever moves forward.
_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.READ: 5,
}


def adapters() -> dict[Channel, ChannelAdapter]:
    registry: dict[Channel, ChannelAdapter] = current_app.extensions["channels"]
    return registry


def queue_message(
    session: Session,
    *,
    jurisdiction_id: int,
    channel: Channel,
    to_address: str,
    from_address: str,
    body: str,
    case: Case | None = None,
    resident: Resident | None = None,
    agent: Agent | None = None,
) -> Interaction:
    """Record an outbound message and deliver it after commit (unless the resident opted out,
    or mail to the address bounced for good)."""
    why_not = _suppressed(session, jurisdiction_id, channel, to_address, resident)
    interaction = Interaction(
        jurisdiction_id=jurisdiction_id,
        case=case,
        resident=resident,
        agent_id=agent.id if agent else None,
        channel=channel,
        direction=Direction.OUTBOUND,
        from_address=from_address,
        to_address=to_address,
        body=body[: MAX_EMAIL_BODY if channel is Channel.EMAIL else MAX_BODY],
        delivery_status=DeliveryStatus.SUPPRESSED if why_not else DeliveryStatus.QUEUED,
        error_code=why_not,
    )
    if channel is Channel.EMAIL:
        # Made now, not by the mail server: a reply to this message must find its case
        # even if it arrives before the delivery job has recorded anything.
        headers = outbound_headers(session, jurisdiction_id, case, from_address)
        interaction.provider_id = headers.message_id
        interaction.subject = headers.subject
        interaction.thread_refs = list(headers.thread_refs)
    session.add(interaction)
    session.flush()
    if not why_not:
        enqueue_after_commit(
            session,
            deliver_interaction,
            interaction.id,
            retries=DELIVERY_RETRIES,
            queue=OUTBOUND_QUEUE,
        )
    return interaction


def _suppressed(
    session: Session,
    jurisdiction_id: int,
    channel: Channel,
    to_address: str,
    resident: Resident | None,
) -> str:
    """Why nothing may be sent to ``to_address`` (an error code), or "" when it may."""
    if channel is Channel.SMS and resident is not None and resident.sms_opted_out:
        return "opted_out"
    if channel is Channel.EMAIL:
        bounced = session.scalar(
            sa.select(ContactPoint.id).where(
                ContactPoint.jurisdiction_id == jurisdiction_id,
                ContactPoint.kind == ContactKind.EMAIL,
                ContactPoint.address == to_address.lower(),
                ContactPoint.undeliverable_at.is_not(None),
            )
        )
        if bounced is not None:
            return "undeliverable"
    return ""


def reply_to_resident(
    session: Session, case: Case, *, agent: Agent | None, body: str
) -> Interaction:
    """Send ``body`` to the case's resident on the channel the case came from.

    :raises Invalid: empty body, or the case has no channel we can answer on.
    """
    text = _reply_text(body)
    to_address, from_address = reply_route(session, case)
    return _send_reply(session, case, case.origin_channel, to_address, from_address, text, agent)


@dataclass(frozen=True)
class ReplyTarget:
    """One of the resident's contact points a reply can actually be sent to."""

    contact_point_id: int
    channel: Channel
    address: str
    sender: str
    """The jurisdiction's own address that sends on ``channel``."""


def reply_targets(session: Session, case: Case) -> list[ReplyTarget]:
    """The resident's contact points we can send on: a channel adapter and a sender exist.

    Offering an address no adapter can reach would only turn into an error after sending.
    """
    if case.resident_id is None:
        return []
    senders = {
        channel: sender
        for channel in set(REPLY_CHANNEL_OF_KIND.values()) & set(adapters())
        if (sender := owned_address(session, case.jurisdiction_id, channel)) is not None
    }
    points = session.scalars(
        sa.select(ContactPoint)
        .where(
            ContactPoint.resident_id == case.resident_id,
            ContactPoint.jurisdiction_id == case.jurisdiction_id,
            ContactPoint.is_valid.is_(True),
            ContactPoint.undeliverable_at.is_(None),
        )
        .order_by(ContactPoint.id)
    )
    targets = []
    for point in points:
        channel = REPLY_CHANNEL_OF_KIND.get(point.kind)
        if channel is not None and channel in senders:
            targets.append(ReplyTarget(point.id, channel, point.address, senders[channel]))
    if case.origin_channel is Channel.WEBCHAT and targets:
        # What the resident typed in this case's chat comes first: that is where they were
        # told the answer would come, whatever else their record holds.
        given = _chat_contacts(session, case.id)
        targets.sort(key=lambda t: t.address not in given)
    return targets


def _chat_contacts(session: Session, case_id: int) -> set[str]:
    row = session.execute(
        sa.select(ChatSession.phone, ChatSession.email)
        .where(ChatSession.case_id == case_id)
        .order_by(ChatSession.id.desc())
        .limit(1)
    ).first()
    return {value for value in row if value} if row is not None else set()


def reply_to_contact(
    session: Session, case: Case, *, agent: Agent | None, body: str, contact_point_id: int
) -> Interaction:
    """Send ``body`` to one of the case's resident's contact points, picked by the agent.

    Only the resident's own reachable points are accepted: a hand-made id of someone else's
    address must never send them this case's details.

    :raises Invalid: empty body, or the contact point is not one of the resident's reachable ones.
    """
    text = _reply_text(body)
    target = next(
        (t for t in reply_targets(session, case) if t.contact_point_id == contact_point_id), None
    )
    if target is None:
        raise Invalid(
            "That address is not one of this resident's contact points.",
            code="not_residents_contact",
            fields={"to": "not the resident's"},
        )
    return _send_reply(session, case, target.channel, target.address, target.sender, text, agent)


def _reply_text(body: str) -> str:
    text = body.strip()
    if not text:
        raise Invalid("A reply needs some text.", code="empty_reply", fields={"body": "required"})
    if len(text) > MAX_BODY:
        raise Invalid(
            f"A reply can be at most {MAX_BODY} characters.",
            code="reply_too_long",
            fields={"body": f"max {MAX_BODY} characters"},
        )
    return text


def _send_reply(
    session: Session,
    case: Case,
    channel: Channel,
    to_address: str,
    from_address: str,
    text: str,
    agent: Agent | None,
) -> Interaction:
    """Queue the reply (suppressed for an opted-out resident) and count it as a response."""
    interaction = queue_message(
        session,
        jurisdiction_id=case.jurisdiction_id,
        channel=channel,
        to_address=to_address,
        from_address=from_address,
        body=text,
        case=case,
        resident=case.resident,
        agent=agent,
    )
    case.updated_at = utcnow()
    if agent is not None:
        record_first_response(session, case)
    return interaction


def reply_route(session: Session, case: Case) -> tuple[str, str]:
    """(to, from) for a message on the case's channel: the way the resident last wrote in."""
    channel = case.origin_channel
    if channel not in adapters():
        raise Invalid(f"Cannot send on {channel}.", code="channel_unavailable")
    last_inbound = session.execute(
        sa.select(Interaction.from_address, Interaction.to_address)
        .where(
            Interaction.case_id == case.id,
            Interaction.channel == channel,
            Interaction.direction == Direction.INBOUND,
        )
        .order_by(Interaction.id.desc())
        .limit(1)
    ).first()
    if last_inbound is not None:
        return last_inbound.from_address, last_inbound.to_address
    kind = CONTACT_KIND_OF_CHANNEL.get(channel)
    contact = None
    if case.resident_id is not None and kind is not None:
        contact = session.scalars(
            sa.select(ContactPoint.address).where(
                ContactPoint.resident_id == case.resident_id, ContactPoint.kind == kind
            )
        ).first()
    sender = owned_address(session, case.jurisdiction_id, channel)
    if contact is None or sender is None:
        raise Invalid("The resident has no address on this channel.", code="no_reply_address")
    return contact, sender


def deliver_interaction(interaction_id: int) -> None:
    """Job: hand one queued outbound interaction to its channel adapter."""
    session = get_db().session()
    try:
        claimed = session.execute(
            sa.update(Interaction)
            .where(
                Interaction.id == interaction_id,
                Interaction.delivery_status == DeliveryStatus.QUEUED,
            )
            .values(delivery_status=DeliveryStatus.SENDING, updated_at=utcnow())
        )
        session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            log.info("interaction %s is not queued; nothing to send", interaction_id)
            return
        interaction = session.get_one(Interaction, interaction_id)
        if _opted_out_since_queued(interaction):
            interaction.delivery_status = DeliveryStatus.SUPPRESSED
            interaction.error_code = "opted_out"
            session.commit()
            return
        message = OutboundMessage(
            interaction_id=interaction.id,
            channel=interaction.channel,
            to_address=interaction.to_address,
            from_address=interaction.from_address,
            body=interaction.body,
            media_urls=tuple(interaction.media_urls or ()),
            subject=interaction.subject,
            message_id=interaction.provider_id or ""
            if interaction.channel is Channel.EMAIL
            else "",
            thread_refs=tuple(interaction.thread_refs or ()),
            automated=interaction.agent_id is None,
        )
        try:
            receipt = adapters()[interaction.channel].send(message)
        except DeliveryError as exc:
            interaction.error_code = exc.code[:64]
            if exc.permanent:
                interaction.delivery_status = DeliveryStatus.FAILED
                session.commit()
                log.warning("interaction %s failed permanently: %s", interaction_id, exc.code)
                return
            interaction.delivery_status = DeliveryStatus.QUEUED
            session.commit()
            raise
        interaction.provider_id = receipt.provider_id
        if _RANK.get(DeliveryStatus(receipt.status), 0) > _RANK[interaction.delivery_status]:
            interaction.delivery_status = DeliveryStatus(receipt.status)
        session.commit()
    finally:
        session.close()


def requeue_stuck_deliveries(session: Session, *, older_than: dt.timedelta) -> list[int]:
    """Queue delivery again for outbound messages still waiting after ``older_than`` (their
    job was lost, for example to a Redis outage). Safe to repeat: delivery claims first."""
    ids = list(
        session.scalars(
            sa.select(Interaction.id)
            .where(
                Interaction.direction == Direction.OUTBOUND,
                Interaction.delivery_status == DeliveryStatus.QUEUED,
                Interaction.updated_at < utcnow() - older_than,
            )
            .order_by(Interaction.id)
            .limit(1000)
        )
    )
    for interaction_id in ids:
        enqueue_after_commit(
            session,
            deliver_interaction,
            interaction_id,
            retries=DELIVERY_RETRIES,
            queue=OUTBOUND_QUEUE,
        )
    session.commit()
    return ids


def _opted_out_since_queued(interaction: Interaction) -> bool:
    """A resident may text STOP while their reply waits in the queue; it must not go out."""
    resident = interaction.resident
    return interaction.channel is Channel.SMS and resident is not None and resident.sms_opted_out


def record_delivery_status(
    session: Session,
    *,
    channel: Channel,
    provider_id: str,
    status: str,
    error_code: str = "",
    interaction_id: int | None = None,
) -> Interaction:
    """Apply a provider's delivery callback; out-of-order callbacks never move a status back.

    :raises NotFound: no outbound interaction matches.
    :raises Invalid: ``status`` is not a delivery status.
    """
    try:
        new_status = DeliveryStatus(status)
    except ValueError:
        raise Invalid(f"Unknown delivery status {status!r}.", code="bad_status") from None
    query = sa.select(Interaction).where(
        Interaction.channel == channel, Interaction.direction == Direction.OUTBOUND
    )
    if interaction_id is not None:
        query = query.where(Interaction.id == interaction_id)
    else:
        query = query.where(Interaction.provider_id == provider_id)
    interaction = session.scalars(query.with_for_update()).one_or_none()
    if interaction is None:
        raise NotFound("No such outbound message.", code="interaction_not_found")
    if interaction.provider_id is None:
        interaction.provider_id = provider_id
    if _RANK.get(new_status, -1) > _RANK.get(interaction.delivery_status, -1):
        interaction.delivery_status = new_status
        if error_code:
            interaction.error_code = error_code[:64]
    session.flush()
    return interaction
