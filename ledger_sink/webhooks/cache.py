"""The active subscriptions, reloaded from PostgreSQL at most every few seconds.

A failed reload keeps the last good list (deliveries go on while the database restarts);
only the first load must succeed, and ``load`` waits for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from ledger_sink.webhooks import subscriptions
from ledger_sink.webhooks.subscriptions import Subscription

log = structlog.get_logger("ledger_sink.webhooks.cache")
# A subscription the dispatcher has never seen (a retry for a new one) forces a reload,
# but not more often than this.
_MISS_RELOAD_S = 1.0


class SubscriptionCache:
    def __init__(self, dsn: str, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._dsn = dsn
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._items: dict[str, Subscription] | None = None
        self._loaded_at = 0.0

    async def load(self) -> None:
        """The first load, retried until the database answers."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
        ):
            with attempt:
                await self._reload()

    async def matching(self, event_type: str) -> list[Subscription]:
        items = await self._current(self._ttl_s)
        return [s for s in items.values() if s.wants(event_type)]

    async def find(self, subscription_id: str) -> Subscription | None:
        """The active subscription with this id, or None (disabled, deleted, unknown)."""
        found = (await self._current(self._ttl_s)).get(subscription_id)
        if found is None:
            found = (await self._current(_MISS_RELOAD_S)).get(subscription_id)
        return found

    async def _current(self, max_age_s: float) -> dict[str, Subscription]:
        async with self._lock:
            if self._items is None or self._clock() - self._loaded_at >= max_age_s:
                try:
                    await self._reload()
                except psycopg.Error as exc:
                    if self._items is None:
                        raise
                    log.warning("subscriptions not reloaded; using the last list", error=str(exc))
                    self._loaded_at = self._clock()  # do not hammer a database that is down
            assert self._items is not None  # noqa: S101 - _reload sets it or raised
            return self._items

    async def _reload(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._dsn, autocommit=True, connect_timeout=5
        ) as conn:
            active = await subscriptions.list_all(conn, active_only=True)
        self._items = {s.subscription_id: s for s in active}
        self._loaded_at = self._clock()
