"""Which webhook tokens were seen, with the message each one carried.

Mailgun signs only ``timestamp + token``, not the message: whoever obtains one signed triple
could post any mail with it. So each token is remembered, for as long as its timestamp is
accepted, with the digest of the message it came with. The same token with the same message
is Mailgun retrying a POST (the Message-ID then files it once); the same token with another
message is a replay, refused.

With Redis (``REDIS_URL``) every web process shares the memory; without it each process keeps
a bounded dictionary of its own (one process serves a developer's or a small city's install).
"""

from __future__ import annotations

import hashlib
import threading
import time

from redis import Redis

KEY_PREFIX = "cc-email-webhook-token:"
MAX_LOCAL_TOKENS = 10_000


class SeenTokens:
    def __init__(
        self, redis: Redis | None, *, ttl_seconds: int, max_local: int = MAX_LOCAL_TOKENS
    ) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.max_local = max_local
        self._local: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def admit(self, token: str, body: bytes) -> bool:
        """Remember ``token`` with ``body``'s digest; False when the token was seen with
        another body (a replay)."""
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        digest = hashlib.sha256(body).hexdigest()
        if self.redis is not None:
            return self._admit_shared(self.redis, KEY_PREFIX + key, digest)
        return self._admit_local(key, digest)

    def _admit_shared(self, redis: Redis, key: str, digest: str) -> bool:
        if redis.set(key, digest, nx=True, ex=self.ttl_seconds):
            return True
        known = redis.get(key)
        if known is None:  # expired in between: it is new again
            return bool(redis.set(key, digest, nx=True, ex=self.ttl_seconds)) or (
                redis.get(key) == digest.encode()
            )
        return bool(known == digest.encode())

    def _admit_local(self, key: str, digest: str) -> bool:
        now = time.monotonic()
        with self._lock:
            known = self._local.get(key)
            if known is not None and known[1] > now:
                return known[0] == digest
            if len(self._local) >= self.max_local:
                self._local = {k: v for k, v in self._local.items() if v[1] > now}
                # Still full of live tokens (a flood): the oldest are forgotten first.
                while len(self._local) >= self.max_local:
                    del self._local[next(iter(self._local))]
            self._local.pop(key, None)
            self._local[key] = (digest, now + self.ttl_seconds)
            return True

    def clear(self) -> None:
        with self._lock:
            self._local.clear()
