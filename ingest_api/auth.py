"""Bearer API keys: shape check, look-up with a bounded LRU cache, failed-login limits, scopes.

The order is the cost order: a secret that cannot be a key is refused without touching
PostgreSQL; a known key is served from the cache; only a well-formed unknown secret costs a
query, and only while its client address has failures left.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import NoReturn

from psycopg import Error as PsycopgError
from psycopg_pool import AsyncConnectionPool

from ingest_api.errors import Forbidden, Unauthorized, Unavailable
from ingest_api.key_usage import UsageRecorder
from ingest_api.keys import KEY_PREFIX, ApiKey, Scope, find_by_secret, hash_key
from ingest_api.ratelimit import FailedAuthLimiter

# What generate_key makes: the prefix and 32 random bytes in unpadded base64url.
_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9_-]{{43}}$")


def well_formed(secret: str) -> bool:
    """Whether ``secret`` has the shape of a key this API issues."""
    return _KEY_SHAPE.fullmatch(secret) is not None


def bearer_secret(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <key>'")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("Authorization must be 'Bearer <key>'")
    return secret.strip()


def require_scope(key: ApiKey, scope: Scope) -> None:
    if scope not in key.scopes:
        raise Forbidden(f"this API key lacks the '{scope}' scope", {"required_scope": scope})


class LruTtlCache:
    """At most ``max_entries`` digests with their look-up, each valid for ``ttl_s``.

    Least recently used entries go first, so a flood of unknown keys evicts only itself
    and the keys in daily use stay cached (a plain dict cleared when full lost them all).
    """

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._entries: OrderedDict[bytes, tuple[float, ApiKey | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float) -> tuple[bool, ApiKey | None]:
        """(hit, key); an expired entry is a miss."""
        entry = self._entries.get(digest)
        if entry is None or entry[0] <= now:
            return False, None
        self._entries.move_to_end(digest)
        return True, entry[1]

    def put(self, digest: bytes, key: ApiKey | None, now: float) -> None:
        self._entries[digest] = (now + self.ttl_s, key)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class KeyCache:
    """Resolves a presented secret to its key, caching hits and misses for ``ttl_s``.

    Without it every request would query PostgreSQL; with it a revocation takes effect
    within ``ttl_s`` seconds on every API process.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        pepper: str,
        cache: LruTtlCache,
        failures: FailedAuthLimiter,
        usage: UsageRecorder,
    ) -> None:
        self.pool = pool
        self.pepper = pepper
        self.cache = cache
        self.failures = failures
        self.usage = usage

    async def authenticate(self, secret: str, address: str) -> ApiKey:
        """The key behind ``secret``, presented from client ``address``."""
        if not well_formed(secret):
            await self._refuse(address, "malformed API key")
        digest = hash_key(secret, self.pepper)
        now = time.monotonic()
        hit, key = self.cache.get(digest, now)
        if not hit:
            await self.failures.check(address)  # no query for an address out of failures
            key = await self._load(secret)
            self.cache.put(digest, key, now)
        if key is None:
            await self._refuse(address, "unknown API key")
        refusal = key.refusal(datetime.now(UTC))
        if refusal is not None:
            await self._refuse(address, refusal)
        self.usage.touch(key.key_id, now)
        return key

    async def _refuse(self, address: str, message: str) -> NoReturn:
        await self.failures.failed(address)  # raises RateLimited when one too many
        raise Unauthorized(message)

    async def _load(self, secret: str) -> ApiKey | None:
        try:
            async with self.pool.connection(timeout=2) as conn:
                return await find_by_secret(conn, secret, self.pepper)
        except (PsycopgError, TimeoutError) as exc:
            raise Unavailable("the key store is unavailable; retry shortly", 1) from exc
