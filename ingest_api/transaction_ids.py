"""Transaction ids claimed in Redis with their content hash: a reused id is a 409 (issue 18).

Every transaction the API publishes claims ``txid:<transaction_id>`` with its content hash
(``schemas.fingerprint``, the first 16 bytes in hex) for ``transaction_id_window_s``, in one
pipelined ``SET NX GET`` per request, across every API key and account. The same id again
with the same content is a retry: it passes, and downstream ids make it harmless. With
other content it is refused before anything is published. Past the window, or for a
transaction produced straight to Kafka, the agent (same account) and the ledger sink (any
account) still dead-letter the reuse (``decision_core.ledger_policy``, ``ledger_sink.conflicts``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ingest_api.errors import Unavailable
from schemas.fingerprint import transaction_fingerprint
from schemas.records import Transaction

log = logging.getLogger("ingest_api.transaction_ids")
# 128 bits are plenty to tell two bodies of one id apart, and keep each entry small.
_HASH_CHARS = 32


def short_fingerprint(tx: Transaction) -> str:
    return transaction_fingerprint(tx)[:_HASH_CHARS]


def redis_key(transaction_id: str) -> str:
    return f"txid:{transaction_id}"


def conflicts(claims: Sequence[tuple[str, str]], previous: Sequence[str | None]) -> list[bool]:
    """Per claim, whether the id was already claimed with another content hash."""
    return [
        old is not None and old != fingerprint
        for (_tid, fingerprint), old in zip(claims, previous, strict=True)
    ]


def created(
    claims: Sequence[tuple[str, str]], previous: Sequence[str | None]
) -> list[tuple[str, str]]:
    """The claims this request made (the id was free): the only ones it may release."""
    return [claim for claim, old in zip(claims, previous, strict=True) if old is None]


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class TransactionIds:
    """Claims and releases transaction ids; disabled when the window is 0."""

    def __init__(self, client: aioredis.Redis, window_s: int) -> None:
        self.client = client
        self.window_s = window_s

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[str | None]:
        """Claim each (transaction id, short fingerprint); the hash each id held before
        (None: free until now). See ``conflicts`` and ``created``.

        A conflicting claim leaves the first one's hash in place (NX), so the first wins.
        """
        if not claims or self.window_s <= 0:
            return [None] * len(claims)
        pipe = self.client.pipeline(transaction=False)
        for tid, fingerprint in claims:
            pipe.set(redis_key(tid), fingerprint, nx=True, get=True, ex=self.window_s)
        try:
            previous = await pipe.execute()
        except RedisError as exc:
            raise Unavailable("the transaction id store is unavailable; retry shortly") from exc
        return [_text(old) for old in previous]

    async def release(self, claims: Sequence[tuple[str, str]]) -> None:
        """Forget claims (``created`` ones) whose transactions were not published after all,
        so that a corrected retry is not refused for a body that never went out."""
        if not claims or self.window_s <= 0:
            return
        try:
            # Only keys still holding this request's hash: never another request's claim.
            for tid, fingerprint in claims:
                if _text(await self.client.get(redis_key(tid))) == fingerprint:
                    await self.client.delete(redis_key(tid))
        except RedisError as exc:
            log.warning("transaction id claims not released: %s", exc)
