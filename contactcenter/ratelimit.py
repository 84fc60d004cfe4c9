"""Rate limits for public endpoints (web chat): a thin wrapper over the ``limits`` library.

One :class:`RateLimits` is built per app at start-up. With ``REDIS_URL`` the counters live in
Redis, so every web process and worker shares them; without it they live in process memory
(the embedded single-process setup). Moving windows: a burst at the edge of a fixed window
cannot double the allowance.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import cast

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from contactcenter.errors import DomainError

log = logging.getLogger(__name__)

_EXTENSION = "ratelimit"
STORE_ERRORS = (RedisError, StorageError, OSError)
"""What an unreachable store (Redis down) raises; limits then fail open."""


class RateLimited(DomainError):
    """Too many requests: rendered as 429."""

    status = 429


class RateLimits:
    """Named limits (``"chat_messages"`` -> ``"30/minute"``) checked per identifier."""

    def __init__(self, redis_url: str, limits: dict[str, str]) -> None:
        self.storage: Storage = (
            cast(Storage, storage_from_string(redis_url, key_prefix="cc-ratelimit"))
            if redis_url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.items: dict[str, RateLimitItem] = {name: parse(rate) for name, rate in limits.items()}

    def hit(self, name: str, identifier: str) -> bool:
        """Count one use; False when over the limit (the use is then not counted).

        With the store unreachable the use is allowed, with a warning: as the job queue does
        in an outage, a failing side service must not turn a resident's message into an error.
        """
        try:
            return bool(self.limiter.hit(self.items[name], name, identifier))
        except STORE_ERRORS:
            log.warning("rate limit %s not checked: the limiter's store is unreachable", name)
            return True

    def check(self, name: str, identifier: str, message: str) -> None:
        """Count one use; :raises RateLimited: when over the limit."""
        if not self.hit(name, identifier):
            raise RateLimited(message, code="rate_limited")

    def reset(self) -> None:
        """Forget every counter (tests)."""
        self.storage.reset()


def init_app(app: Flask, redis_url: str, limits: dict[str, str]) -> RateLimits:
    """Build the app's limiter once; a second call (a blueprint registered twice) keeps it."""
    existing: RateLimits | None = app.extensions.get(_EXTENSION)
    if existing is None:
        existing = app.extensions[_EXTENSION] = RateLimits(redis_url, limits)
    return existing


def rate_limits() -> RateLimits:
    limiter: RateLimits = current_app.extensions[_EXTENSION]
    return limiter


def client_network(remote_addr: str | None) -> str:
    """Who a client's requests are counted against: an IPv4 address as is, an IPv6 one by its
    /64 (one subscriber's network: clients pick new addresses within it at will)."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return remote_addr or ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
