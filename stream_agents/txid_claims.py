"""The agents' claims in the transaction id registry (Redis): one round trip per micro-batch.

A gateway producing straight to Kafka bypasses the API's claim, and the agent's own check
sees one account's state only (accounts are partitioned), so a reused id of another account
would be decided and announced before the sink refused to book it (issue 18, item 8).
Before deciding a micro-batch the agent therefore claims every screened transaction's id in
the API's registry (``schemas.transaction_claims``: the same keys, values and window, the
same ``SET NX GET``), all in one round trip; an id that holds another body's hash is a
conflicting duplicate (``DecisionPipeline.process_screened`` dead-letters it). Its own
earlier claim (a redelivery after a crash) or the API's for the same body holds the same
hash: no conflict.

The batch's ``SET``s run in the registry's one small Lua script
(``schemas.transaction_claims.CLAIM_SCRIPT``, by its SHA once loaded), as the API's do. A
script's keys must share a slot in a Redis Cluster:
the registry is a single Redis (or a primary with replicas), as the API's is.

The registry is a guard, not a dependency: when Redis fails or is slow (``timeout_s``) the
batch is decided as before this check, its ids left to the sink's check (counted in
``sentinel_agent_txid_unchecked_total``, logged at most once per ``LOG_EVERY_S``), and
Redis is not asked again for ``RETRY_S``, so an outage costs one timeout per interval, not
one per batch. Only this module talks to Redis; replay never claims (it has no instance).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from schemas.records import Transaction
from schemas.transaction_claims import CLAIM_SCRIPT, claim_of, conflicts, script_call, text
from stream_agents.metrics import TXID_REUSED, TXID_UNCHECKED

log = logging.getLogger("stream_agents.txid_claims")
RETRY_S: Final = 5.0  # after a failure, batches go unchecked this long before Redis is asked
LOG_EVERY_S: Final = 60.0  # one warning per interval while the registry is unavailable


class Outage:
    """When to ask the registry again, and when to say it is unavailable (pure: a clock)."""

    def __init__(self, clock: Callable[[], float], retry_s: float, log_every_s: float) -> None:
        self.clock = clock
        self.retry_s = retry_s
        self.log_every_s = log_every_s
        self.since: float | None = None  # the first failure of the current outage
        self.retry_at = 0.0
        self.logged_at: float | None = None
        self.unchecked = 0  # transactions decided unchecked since the last warning

    def may_ask(self) -> bool:
        return self.since is None or self.clock() >= self.retry_at

    def failed(self, unchecked: int) -> str | None:
        """A batch went unchecked (Redis failed, or was not asked); the warning to log now,
        or None within the interval of the last one."""
        now = self.clock()
        if self.since is None:
            self.since = now
        if self.retry_at <= now:
            self.retry_at = now + self.retry_s
        self.unchecked += unchecked
        if self.logged_at is not None and now - self.logged_at < self.log_every_s:
            return None
        self.logged_at = now
        count, self.unchecked = self.unchecked, 0
        return (
            f"transaction id registry unavailable for {now - self.since:.0f} s: "
            f"{count} transactions decided without the cross-account id check"
        )

    def recovered(self) -> str | None:
        """The registry answered; the note to log if it ends an outage."""
        if self.since is None:
            return None
        note = (
            f"transaction id registry back after {self.clock() - self.since:.0f} s "
            f"({self.unchecked} more transactions decided unchecked)"
        )
        self.since, self.logged_at, self.unchecked = None, None, 0
        return note


class TransactionIdClaims:
    """Claims a micro-batch's transaction ids; disabled when the window is 0."""

    def __init__(
        self,
        client: aioredis.Redis,
        window_s: int,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.window_s = window_s
        self.timeout_s = timeout_s
        self.outage = Outage(clock, RETRY_S, LOG_EVERY_S)
        self.script = client.register_script(CLAIM_SCRIPT)  # EVALSHA, loaded when missing

    @classmethod
    def connect(cls, url: str, window_s: int, timeout_s: float) -> TransactionIdClaims:
        # No retries inside the client: a failure degrades the batch, the outage retries.
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, window_s, timeout_s)

    async def reused(self, txs: Sequence[Transaction]) -> list[bool]:
        """Per transaction, whether another body claimed its id first; empty when none
        could be told (nothing to claim, the check off, or the registry unavailable)."""
        if not txs or self.window_s <= 0:
            return []
        if not self.outage.may_ask():
            self._unchecked(len(txs))
            return []
        claims = [claim_of(tx) for tx in txs]
        keys, args = script_call(claims, self.window_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                previous = await self.script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("transaction id claims failed: %r", exc)
            self._unchecked(len(txs))
            return []
        note = self.outage.recovered()
        if note is not None:
            log.warning("%s", note)
        reused = conflicts(claims, [text(old) for old in previous])
        TXID_REUSED.inc(sum(reused))
        return reused

    def _unchecked(self, count: int) -> None:
        TXID_UNCHECKED.inc(count)
        warning = self.outage.failed(count)
        if warning is not None:
            log.warning("%s (the ledger sink still refuses a reuse)", warning)

    async def close(self) -> None:
        await self.client.aclose()
