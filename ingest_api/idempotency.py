"""Idempotency keys in Redis: a retried POST returns the first response and publishes nothing.

One key per (API key, Idempotency-Key) holds either a short-lived "pending" claim (the first
request is still running) or, for 24 h, the finished response. The claim is one atomic
``SET NX GET``, so of any number of concurrent duplicates exactly one proceeds.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ingest_api.errors import (
    IdempotencyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    Unavailable,
)

log = logging.getLogger("ingest_api.idempotency")

_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes


def body_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_key(value: str | None) -> str:
    if value is None:
        raise IdempotencyKeyMissing("the Idempotency-Key header is required on POST requests")
    if not _KEY_SHAPE.match(value):
        raise IdempotencyKeyMissing("Idempotency-Key must be 1-255 visible ASCII characters")
    return value


class IdempotencyStore:
    """Claims, completes and releases idempotency keys."""

    def __init__(self, client: aioredis.Redis, ttl_s: int, lock_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.lock_s = lock_s

    @staticmethod
    def redis_key(scope: str, key: str) -> str:
        return f"idem:{scope}:{key}"

    async def claim(self, rkey: str, fingerprint: str) -> StoredResponse | None:
        """None if this request now owns the key; the stored response for a replay.

        Raises IdempotencyInFlight while the first request runs, IdempotencyKeyReused when
        the key was used with a different body.
        """
        pending = orjson.dumps({"state": "pending", "fp": fingerprint})
        try:
            previous = await self.client.set(rkey, pending, nx=True, ex=self.lock_s, get=True)
        except RedisError as exc:
            raise Unavailable("the idempotency store is unavailable; retry shortly", 1) from exc
        if previous is None:
            return None
        entry = orjson.loads(bytes(previous) if isinstance(previous, bytes) else str(previous))
        if entry["fp"] != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request body"
            )
        if entry["state"] == "pending":
            raise IdempotencyInFlight(
                "a request with this Idempotency-Key is still being processed",
                headers={"Retry-After": "1"},
            )
        return StoredResponse(entry["status"], entry["body"].encode())

    async def complete(self, rkey: str, fingerprint: str, response: StoredResponse) -> None:
        done = {
            "state": "done",
            "fp": fingerprint,
            "status": response.status,
            "body": response.body.decode(),
        }
        try:
            await self.client.set(rkey, orjson.dumps(done), ex=self.ttl_s)
        except RedisError as exc:
            # The transaction is already on the broker: answering 5xx now would invite a
            # retry that publishes it again. Answer as accepted; the pending claim expires
            # after lock_s, and a later retry is deduplicated downstream by transaction id.
            log.warning("idempotency key %s not completed: %s", rkey, exc)

    async def release(self, rkey: str) -> None:
        """Free the key after a failure that published nothing, so a retry may proceed."""
        try:
            await self.client.delete(rkey)
        except RedisError:
            pass  # the pending claim expires after lock_s anyway
