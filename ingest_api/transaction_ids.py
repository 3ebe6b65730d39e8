"""Transaction ids claimed in Redis with their content hash: a reused id is a 409 (issue 18).

Every transaction the API publishes claims ``txid:<transaction_id>`` with its content hash
(``schemas.transaction_claims``: the key, the value, what conflicts) for
``transaction_id_window_s``, in one call of the registry's claim script per request (a
``SET NX GET`` per id, as the agents claim), across every API key and account. The same id
again with the same content is a retry: it passes, and downstream ids make it harmless.
With other content it is refused before anything is published. A transaction produced
straight to Kafka is claimed in the same keys by the agents before they decide it
(``stream_agents.txid_claims``); past the window the ledger sink (any account, any time)
still dead-letters the reuse (``ledger_sink.conflicts``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ingest_api.errors import Unavailable
from schemas.transaction_claims import CLAIM_SCRIPT, Claim, claim_key, script_call, text

log = logging.getLogger("ingest_api.transaction_ids")


class TransactionIds:
    """Claims and releases transaction ids; disabled when the window is 0."""

    def __init__(self, client: aioredis.Redis, window_s: int) -> None:
        self.client = client
        self.window_s = window_s

    async def claim(self, claims: Sequence[Claim]) -> list[str | None]:
        """Claim each (transaction id, short fingerprint); the hash each id held before
        (None: free until now). See ``conflicts`` and ``created``.

        A conflicting claim leaves the first one's hash in place (NX), so the first wins.
        """
        if not claims or self.window_s <= 0:
            return [None] * len(claims)
        keys, args = script_call(claims, self.window_s)
        try:
            previous = await self.client.register_script(CLAIM_SCRIPT)(keys=keys, args=args)
        except RedisError as exc:
            raise Unavailable("the transaction id store is unavailable; retry shortly") from exc
        return [text(old) for old in previous]

    async def release(self, claims: Sequence[Claim]) -> None:
        """Forget claims (``created`` ones) whose transactions were not published after all,
        so that a corrected retry is not refused for a body that never went out."""
        if not claims or self.window_s <= 0:
            return
        try:
            # Only keys still holding this request's hash: never another request's claim.
            for tid, fingerprint in claims:
                if text(await self.client.get(claim_key(tid))) == fingerprint:
                    await self.client.delete(claim_key(tid))
        except RedisError as exc:
            log.warning("transaction id claims not released: %s", exc)
