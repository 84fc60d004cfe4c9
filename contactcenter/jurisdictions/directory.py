"""Which jurisdiction owns an address: asked on every webhook, changed a few times a year.

Each process keeps the answers for a short while, so the hot path of a webhook does not pay a
query (and a phone-number parse) for something that almost never changes. A newly added
number is found at once (misses are not cached); a number moved to another jurisdiction is
seen after at most ``ttl`` seconds.

Entries are keyed by the normalized address, so the spellings of one address ("311@City.Example",
"311@CITY.example") share one entry, and the whole cache is dropped when it passes
``max_entries``: a long-running process (the SMTP listener) never grows it without bound.
"""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.errors import NotFound
from contactcenter.jurisdictions.models import ChannelAddress
from contactcenter.messages import CONTACT_KIND_OF_CHANNEL, Channel, ContactKind
from contactcenter.residents.addresses import normalize

MAX_ENTRIES = 10_000


class AddressDirectory:
    def __init__(self, ttl: float = 60.0, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[Channel, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    def jurisdiction_id(self, session: Session, channel: Channel, address: str) -> int:
        """:raises NotFound: no jurisdiction here owns ``address`` on ``channel``."""
        now = time.monotonic()
        # The address exactly as the provider sent it first: a webhook's hot path then pays
        # no phone-number parse (the spelling a provider uses does not change).
        raw_key = (channel, address)
        entry = self._entries.get(raw_key)
        if entry is not None and entry[1] > now:
            return entry[0]
        normalized = _normalized(channel, address)
        key = (channel, normalized)
        entry = self._entries.get(key)
        if entry is not None and entry[1] > now:
            return entry[0]
        found = session.scalar(
            sa.select(ChannelAddress.jurisdiction_id).where(
                ChannelAddress.channel == channel, ChannelAddress.address == normalized
            )
        )
        if found is None:
            raise NotFound(
                f"No jurisdiction answers {channel} at {address!r}.", code="unknown_destination"
            )
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = self._entries[raw_key] = (found, now + self.ttl)
        return found

    def forget(self, channel: Channel, address: str) -> None:
        with self._lock:
            self._entries.pop((channel, address), None)
            self._entries.pop((channel, _normalized(channel, address)), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _normalized(channel: Channel, address: str) -> str:
    """Owned addresses are stored normalized; the region only matters for national formats."""
    kind = CONTACT_KIND_OF_CHANNEL.get(channel, ContactKind.CHAT)
    return normalize(kind, address, "US").address
