"""Open311 clients: the applications allowed to POST requests, one API key each.

An administrator issues a key to a client (a city app, FixMyStreet); the key is shown once and
only its SHA-256 is stored, so a database leak gives no one a working key. Each key has its own
rate limit, counted in a moving window shared by every web process when Redis is configured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import re
import secrets
import time
from collections.abc import Sequence

import sqlalchemy as sa
from flask import current_app
from limits import RateLimitItem, RateLimitItemPerMinute
from sqlalchemy.orm import Session

from contactcenter import ratelimit
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import utcnow
from contactcenter.errors import Forbidden, Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.open311.models import Open311Client
from contactcenter.ratelimit import client_network

log = logging.getLogger(__name__)

KEY_PREFIX = "o311_"
SHOWN_PREFIX = 12
"""Characters of a key kept in clear (``key_prefix``) so staff can tell keys apart."""
MAX_KEY_LENGTH = 200
MAX_NAME = 200
MAX_EMAIL = 320
MAX_PER_MINUTE = 100_000
MAX_CLIENTS = 1000
"""Clients listed at most (a jurisdiction has a handful)."""
LAST_USED_EVERY = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per key, not on every request."""
_LIMIT_NAMESPACE = "open311"
BAD_KEYS_PER_MINUTE = 60
"""Refused api_keys one address may send a jurisdiction per minute before it gets 429s."""
_STORE_ERRORS = ratelimit.STORE_ERRORS
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RateLimited(ratelimit.RateLimited):
    """Over the key's requests per minute (429); ``retry_after`` is when to try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, code="rate_limited", fields={"retry_after": retry_after})
        self.retry_after = retry_after


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    name: str,
    contact_email: str = "",
    requests_per_minute: int = 60,
    key: str | None = None,
) -> tuple[Open311Client, str]:
    """A new client and its API key; the key is returned this once and never stored.

    ``key`` sets the key's value instead of drawing one: only for the demo, whose key is
    printed in the README.

    :raises Invalid: a bad name, email, rate or key, naming the field.
    """
    errors: dict[str, str] = {}
    clean_name = " ".join(name.split())
    if not clean_name:
        errors["name"] = "Name the client (the application or organization using the key)."
    elif len(clean_name) > MAX_NAME:
        errors["name"] = f"At most {MAX_NAME} characters."
    email = contact_email.strip()
    if email and (len(email) > MAX_EMAIL or not _EMAIL.match(email)):
        errors["contact_email"] = "That is not an email address."
    if not 1 <= requests_per_minute <= MAX_PER_MINUTE:
        errors["requests_per_minute"] = f"Between 1 and {MAX_PER_MINUTE}."
    if key is not None and not (SHOWN_PREFIX < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        errors["key"] = f"A key has {SHOWN_PREFIX + 1} to {MAX_KEY_LENGTH} printable characters."
    for field, value in (("name", clean_name), ("contact_email", email)):
        if "\x00" in value:
            errors[field] = "Must not contain NUL characters."
    if errors:
        raise Invalid("Check the client's details.", code="invalid_client", fields=errors)
    plain = key if key is not None else KEY_PREFIX + secrets.token_urlsafe(32)
    client = Open311Client(
        jurisdiction_id=jurisdiction.id,
        name=clean_name,
        contact_email=email,
        key_hash=_digest(plain),
        key_prefix=plain[:SHOWN_PREFIX],
        requests_per_minute=requests_per_minute,
        created_at=utcnow(),
    )
    session.add(client)
    session.flush()
    return client, plain


def client_for_key(session: Session, key: str) -> Open311Client | None:
    """The client holding ``key`` (revoked or not), or None."""
    return session.scalars(
        sa.select(Open311Client).where(Open311Client.key_hash == _digest(key))
    ).one_or_none()


def authenticate(
    session: Session, jurisdiction: Jurisdiction, api_key: str | None
) -> Open311Client:
    """The client whose key ``api_key`` is, allowed to post to ``jurisdiction``.

    The key is looked up by its SHA-256, so the lookup's timing says nothing about how close a
    guess was. One answer for every refusal: nobody learns whether a key exists elsewhere.

    :raises Forbidden: no key, an unknown or revoked key, or another jurisdiction's key.
    """
    refused = Forbidden("A valid api_key is required to post requests.", code="bad_api_key")
    if not api_key or len(api_key) > MAX_KEY_LENGTH:
        raise refused
    client = client_for_key(session, api_key)
    if client is None or client.revoked_at is not None or client.jurisdiction_id != jurisdiction.id:
        raise refused
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_EVERY:
        client.last_used_at = now  # written with the request's commit, once a minute at most
    return client


def _limits() -> ratelimit.RateLimits:
    return ratelimit.init_app(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        current_app.config["SETTINGS"].redis_url,
        {},
    )


def check_rate(client: Open311Client) -> None:
    """Count one request against the client's key.

    With the limiter's store unreachable (Redis down) the request goes through, with a
    warning logged: as the job queue does in an outage, a failing side service must not
    turn a resident's report into an error.

    :raises RateLimited: over the key's ``requests_per_minute`` in the last minute.
    """
    item = RateLimitItemPerMinute(client.requests_per_minute)
    # The key's hash, not the client's id: ids restart on a fresh database, hashes never repeat.
    _hit(
        item,
        client.key_hash[:32],
        f"This api_key may post {client.requests_per_minute} requests a minute",
    )


def check_bad_keys(jurisdiction: Jurisdiction, remote_addr: str | None) -> None:
    """Refuse (429) an address that sent too many refused keys in the last minute, before its
    key is even looked up: guessing keys is throttled per address (an IPv6 client by its /64,
    as the web chat counts starts). Fails open like :func:`check_rate`."""
    item = RateLimitItemPerMinute(BAD_KEYS_PER_MINUTE)
    identifier = f"bad-key:{jurisdiction.id}:{client_network(remote_addr)}"
    try:
        limits = _limits()
        if limits.limiter.test(item, _LIMIT_NAMESPACE, identifier):
            return
        stats = limits.limiter.get_window_stats(item, _LIMIT_NAMESPACE, identifier)
    except _STORE_ERRORS:
        log.warning("Open311 rate limit not checked: the limiter's store is unreachable")
        return
    raise _limited(
        f"Too many refused api_keys from this address ({BAD_KEYS_PER_MINUTE} a minute)",
        stats.reset_time,
    )


def count_bad_key(jurisdiction: Jurisdiction, remote_addr: str | None) -> None:
    """Count one refused key against the address that sent it (fails open)."""
    item = RateLimitItemPerMinute(BAD_KEYS_PER_MINUTE)
    identifier = f"bad-key:{jurisdiction.id}:{client_network(remote_addr)}"
    try:
        _limits().limiter.hit(item, _LIMIT_NAMESPACE, identifier)
    except _STORE_ERRORS:
        log.warning("Open311 refused key not counted: the limiter's store is unreachable")


def _hit(item: RateLimitItem, identifier: str, allowance: str) -> None:
    try:
        limits = _limits()
        if limits.limiter.hit(item, _LIMIT_NAMESPACE, identifier):
            return
        stats = limits.limiter.get_window_stats(item, _LIMIT_NAMESPACE, identifier)
    except _STORE_ERRORS:
        log.warning("Open311 rate limit not checked: the limiter's store is unreachable")
        return
    raise _limited(allowance, stats.reset_time)


def _limited(allowance: str, reset_time: float) -> RateLimited:
    retry_after = max(1, math.ceil(reset_time - time.time()))
    return RateLimited(f"{allowance}; try again in {retry_after} seconds.", retry_after=retry_after)


def list_clients(session: Session, jurisdiction_ids: Sequence[int]) -> list[Open311Client]:
    """The clients of these jurisdictions, oldest first (revoked ones too, marked so)."""
    return list(
        session.scalars(
            sa.select(Open311Client)
            .where(Open311Client.jurisdiction_id.in_(jurisdiction_ids))
            .order_by(Open311Client.id)
            .limit(MAX_CLIENTS)
        )
    )


def revoke_key(session: Session, jurisdiction_ids: Sequence[int], client_id: int) -> Open311Client:
    """Revoke the client's key at once; revoking a revoked key changes nothing.

    :raises NotFound: no such client in these jurisdictions.
    """
    client = None
    if 0 < client_id <= MAX_ID:  # a larger id is out of range for the column: no such client
        client = session.scalars(
            sa.select(Open311Client).where(
                Open311Client.id == client_id, Open311Client.jurisdiction_id.in_(jurisdiction_ids)
            )
        ).one_or_none()
    if client is None:
        raise NotFound(f"No Open311 client {client_id}.", code="client_not_found")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
    return client
