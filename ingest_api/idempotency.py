"""Idempotency keys in Redis: a retried POST returns the first response and publishes nothing.

One key per (API key, Idempotency-Key) holds either a short-lived "pending" claim (the first
request is still running) or, for 24 h, the finished response. The claim is one atomic
``SET NX GET``, so of any number of concurrent duplicates exactly one proceeds. The entry's
bytes are packed by `ingest_api.idempotency_entry`; the store's fill level is watched by
`ingest_api.store_capacity`.
"""

from __future__ import annotations

import logging
import re

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ingest_api.admission import Claims
from ingest_api.errors import (
    IdempotencyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    Unavailable,
)
from ingest_api.idempotency_entry import (
    StoredResponse,
    entry_key,
    fingerprint,
    pack_done,
    pack_pending,
    unpack,
)

__all__ = ["IdempotencyStore", "StoredResponse", "body_fingerprint", "check_key", "unavailable"]

log = logging.getLogger("ingest_api.idempotency")

_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")


def body_fingerprint(body: bytes) -> bytes:
    return fingerprint(body)


def check_key(value: str | None) -> str:
    if value is None:
        raise IdempotencyKeyMissing("the Idempotency-Key header is required on POST requests")
    if not _KEY_SHAPE.match(value):
        raise IdempotencyKeyMissing("Idempotency-Key must be 1-255 visible ASCII characters")
    return value


def unavailable() -> Unavailable:
    return Unavailable("the idempotency store is unavailable; retry shortly", 1)


class IdempotencyStore:
    """Claims, completes and releases idempotency keys."""

    def __init__(self, client: aioredis.Redis, ttl_s: int, lock_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.lock_s = lock_s

    @staticmethod
    def redis_key(scope: str, key: str) -> bytes:
        return entry_key(scope, key)

    async def claim(self, rkey: bytes, fp: bytes) -> StoredResponse | None:
        """None if this request now owns the key; the stored response for a replay.

        Raises IdempotencyInFlight while the first request runs, IdempotencyKeyReused when
        the key was used with a different body.
        """
        pending = pack_pending(fp)
        try:
            previous = await self.client.set(rkey, pending, nx=True, ex=self.lock_s, get=True)
        except RedisError as exc:
            raise unavailable() from exc
        return self.replay_of(previous, fp)

    def claims(self, rkey: bytes, fp: bytes) -> Claims:
        """The claim ``claim`` makes, for the admission script to make it with the rest."""
        return Claims(rkey, pack_pending(fp), self.lock_s)

    @staticmethod
    def replay_of(previous: object, fp: bytes) -> StoredResponse | None:
        """What the key held before this request's claim means: None (it was free), the
        stored response, or IdempotencyInFlight / IdempotencyKeyReused."""
        if previous is None:
            return None
        entry = unpack(previous if isinstance(previous, bytes) else str(previous).encode())
        if entry.fingerprint != fp:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body"
            )
        if entry.response is None:
            raise IdempotencyInFlight(
                "a request with this Idempotency-Key is still being processed",
                headers={"Retry-After": "1"},
            )
        return entry.response

    async def complete(self, rkey: bytes, fp: bytes, response: StoredResponse) -> None:
        try:
            await self.client.set(rkey, pack_done(fp, response), ex=self.ttl_s)
        except RedisError as exc:
            # The transaction is already on the broker: answering 5xx now would invite a
            # retry that publishes it again. Answer as accepted; the pending claim expires
            # after lock_s, and a later retry is deduplicated downstream by transaction id.
            log.warning("idempotency key %s not completed: %s", rkey.hex(), exc)

    async def release(self, rkey: bytes) -> None:
        """Free the key after a failure that published nothing, so a retry may proceed."""
        try:
            await self.client.delete(rkey)
        except RedisError:
            pass  # the pending claim expires after lock_s anyway
