"""The port between the core and the channel adapters.

Adapters translate a channel's wire format into an :class:`InboundMessage` and an
:class:`OutboundMessage` back into the wire format. They hold no business rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    WEBCHAT = "webchat"
    EMAIL = "email"
    WALK_IN = "walk_in"
    OPEN311 = "open311"
    """Filed through the Open311 GeoReport v2 API (a city app, FixMyStreet, a civic hack)."""
    OTHER = "other"
    """Imported history whose source did not say (New York's "UNKNOWN"/"OTHER")."""


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"


CONTACT_KIND_OF_CHANNEL = {
    Channel.SMS: ContactKind.PHONE,
    Channel.VOICE: ContactKind.PHONE,
    Channel.EMAIL: ContactKind.EMAIL,
    Channel.WEBCHAT: ContactKind.CHAT,
}


@dataclass(frozen=True)
class InboundMessage:
    """One message from a resident, channel-neutral.

    ``provider_id`` is the channel's own message id (Twilio's MessageSid, an email's
    Message-ID): the idempotency key that makes provider retries harmless.
    """

    channel: Channel
    provider_id: str
    from_address: str
    to_address: str
    body: str
    media_urls: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    subject: str = ""
    thread_refs: tuple[str, ...] = ()
    """Provider ids of the earlier messages this one answers, nearest first (an email's
    In-Reply-To, then its References newest first): how a reply finds its case."""
    automated: bool = False
    """Sent by a machine (an auto-reply, list mail, a bounce): never acknowledged, so two
    robots can never answer each other forever."""


@dataclass(frozen=True)
class OutboundMessage:
    interaction_id: int
    channel: Channel
    to_address: str
    from_address: str
    body: str
    media_urls: tuple[str, ...] = field(default_factory=tuple)
    subject: str = ""
    message_id: str = ""
    """The id the core gave this message up front (an email's Message-ID), so replies to it
    thread before the provider has even answered."""
    thread_refs: tuple[str, ...] = ()
    """Earlier messages of the conversation, oldest first; the last is the one answered."""
    automated: bool = False
    """Sent by the system, not typed by an agent (an acknowledgement): email marks it
    ``Auto-Submitted: auto-replied`` so well-behaved robots never answer it."""
    html: str = ""
    """An HTML rendering of ``body`` (email only; a report's tables): sent as the
    alternative to the plain text, which stays the message for every other reader."""


@dataclass(frozen=True)
class ProviderReceipt:
    provider_id: str
    status: str


class DeliveryError(Exception):
    """The provider refused the message; ``permanent`` means retrying cannot help."""

    def __init__(self, message: str, *, code: str = "", permanent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent


class ChannelAdapter(Protocol):
    channel: Channel

    def send(self, message: OutboundMessage) -> ProviderReceipt: ...
