"""Rate limits in Redis (the ``limits`` library): per API key, and failed logins per address.

A key's burst limit caps any one second; its sustained limit caps the average over a minute.
Failed authentications are counted per client address over a minute. All use sliding-window
counters, so a client cannot double its rate at a window edge. A key's two windows are
counted in one round trip (``ingest_api.admission``, ``limits``' own acquire script per window,
under the keys ``limits`` gives them), so its strategy reads them back for a refusal's headers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from ingest_api.admission import Admission, Window
from ingest_api.errors import RateLimited, Unavailable


@dataclass(frozen=True, slots=True)
class Quota:
    per_second: int
    burst: int

    def items(self) -> tuple[RateLimitItem, RateLimitItem]:
        return RateLimitItemPerSecond(self.burst, 1), RateLimitItemPerMinute(self.per_second * 60)


def _sliding_limiter(
    redis_url: str, pool: aioredis.ConnectionPool | None = None
) -> SlidingWindowCounterRateLimiter:
    uri = redis_url.replace("redis://", "async+redis://", 1)
    options: dict[str, Any] = {} if pool is None else {"connection_pool": pool}
    storage = RedisStorage(uri, implementation="redispy", wrap_exceptions=True, **options)
    return SlidingWindowCounterRateLimiter(storage)


def _unavailable() -> Unavailable:
    return Unavailable("the rate limiter is unavailable; retry shortly", 1)


class RateLimiter:
    """Counts each request against its key's burst and sustained limits."""

    def __init__(self, redis_url: str, admission: Admission, client: aioredis.Redis) -> None:
        # On ``client``'s connections: the script counts there, limits reads a refusal there.
        self._limiter = _sliding_limiter(redis_url, client.connection_pool)
        self._admission = admission

    @staticmethod
    def windows(key_id: str, quota: Quota, cost: int = 1) -> list[tuple[RateLimitItem, Window]]:
        """The windows a request of ``cost`` is counted in, burst first."""
        return [(item, Window.of(item, key_id, cost)) for item in quota.items()]

    async def hit(self, key_id: str, quota: Quota, cost: int = 1) -> None:
        """Count ``cost`` requests; raise RateLimited when either limit is exhausted.

        Successful requests cost one Redis round trip for both limits and carry no RateLimit
        headers; a refusal reports the exhausted window in RateLimit-* and Retry-After.
        """
        windows = self.windows(key_id, quota, cost)
        try:
            refused = (await self._admission([w for _item, w in windows])).refused
        except RedisError as exc:
            raise _unavailable() from exc
        if refused is not None:
            await self.refuse(windows[refused][0], key_id)

    async def refuse(self, item: RateLimitItem, key_id: str) -> None:
        """Raise the RateLimited of ``item``'s window, its state read by ``limits``."""
        try:
            stats = await self._limiter.get_window_stats(item, key_id)
        except (StorageError, RedisError) as exc:
            raise _unavailable() from exc
        raise _refusal(item, stats.remaining, stats.reset_time)


class FailedAuthLimiter:
    """Failed authentications per client address: past ``per_minute``, a 429 for a while.

    It guards PostgreSQL and the key space: an address that keeps presenting unknown keys
    is refused before its next key is looked up.
    """

    NAMESPACE = "auth-failures"

    def __init__(self, redis_url: str, per_minute: int) -> None:
        self._limiter = _sliding_limiter(redis_url)
        self.item = RateLimitItemPerMinute(per_minute)

    async def check(self, address: str) -> None:
        """Raise RateLimited if ``address`` has no failures left (counts nothing)."""
        try:
            if not await self._limiter.test(self.item, self.NAMESPACE, address):
                await self._refuse(address)
        except (StorageError, RedisError) as exc:
            raise _unavailable() from exc

    async def failed(self, address: str) -> None:
        """Count one failure; raise RateLimited if it was one too many."""
        try:
            if not await self._limiter.hit(self.item, self.NAMESPACE, address):
                await self._refuse(address)
        except (StorageError, RedisError) as exc:
            raise _unavailable() from exc

    async def _refuse(self, address: str) -> None:
        stats = await self._limiter.get_window_stats(self.item, self.NAMESPACE, address)
        raise _refusal(
            self.item, stats.remaining, stats.reset_time, "too many failed authentications"
        )


def _refusal(
    item: RateLimitItem,
    remaining: int,
    reset_time: float,
    what: str = "rate limit exceeded for this API key",
) -> RateLimited:
    retry = max(1, math.ceil(reset_time - time.time()))
    headers = {
        "Retry-After": str(retry),
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(retry),
    }
    return RateLimited(
        f"{what} (limit {item})",
        {"limit": str(item), "retry_after_s": retry},
        headers=headers,
    )
