"""Bearer API keys: look-up with a short in-process cache, and scope checks."""

from __future__ import annotations

import time

from psycopg import Error as PsycopgError
from psycopg_pool import AsyncConnectionPool

from ingest_api.errors import Forbidden, Unauthorized, Unavailable
from ingest_api.keys import ApiKey, Scope, find_by_secret, hash_key


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


class KeyCache:
    """Resolves a presented secret to its key, caching hits and misses for ``ttl_s``.

    Without it every request would query PostgreSQL; with it a revocation takes effect
    within ``ttl_s`` seconds on every API process.
    """

    def __init__(self, pool: AsyncConnectionPool, pepper: str, ttl_s: float) -> None:
        self.pool = pool
        self.pepper = pepper
        self.ttl_s = ttl_s
        self._cache: dict[bytes, tuple[float, ApiKey | None]] = {}

    async def authenticate(self, secret: str) -> ApiKey:
        digest = hash_key(secret, self.pepper)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            key = cached[1]
        else:
            key = await self._load(secret)
            if len(self._cache) > 10_000:
                self._cache.clear()  # bounded: unknown keys must not grow it forever
            self._cache[digest] = (now + self.ttl_s, key)
        if key is None or key.revoked_at is not None:
            raise Unauthorized("invalid or revoked API key")
        return key

    async def _load(self, secret: str) -> ApiKey | None:
        try:
            async with self.pool.connection(timeout=2) as conn:
                return await find_by_secret(conn, secret, self.pepper)
        except (PsycopgError, TimeoutError) as exc:
            raise Unavailable(f"key store unavailable: {exc}", 1) from exc
