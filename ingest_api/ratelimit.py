"""Per-API-key rate limits in Redis (the ``limits`` library): a burst and a sustained rate.

The burst limit caps any one second; the sustained limit caps the average over a minute.
Both use sliding-window counters, so a client cannot double its rate at a window edge.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError

from ingest_api.errors import RateLimited, Unavailable


@dataclass(frozen=True, slots=True)
class Quota:
    per_second: int
    burst: int

    def items(self) -> tuple[RateLimitItem, RateLimitItem]:
        return RateLimitItemPerSecond(self.burst, 1), RateLimitItemPerMinute(self.per_second * 60)


class RateLimiter:
    """Counts each request against its key's burst and sustained limits."""

    def __init__(self, redis_url: str) -> None:
        uri = redis_url.replace("redis://", "async+redis://", 1)
        storage = RedisStorage(uri, implementation="redispy", wrap_exceptions=True)
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, key_id: str, quota: Quota, cost: int = 1) -> None:
        """Count ``cost`` requests; raise RateLimited when either limit is exhausted.

        Successful requests cost one Redis round trip per limit and carry no RateLimit
        headers; a refusal reports the exhausted window in RateLimit-* and Retry-After.
        """
        try:
            for item in quota.items():
                if not await self._limiter.hit(item, key_id, cost=cost):
                    stats = await self._limiter.get_window_stats(item, key_id)
                    raise _refusal(item, stats.remaining, stats.reset_time)
        except (StorageError, RedisError) as exc:
            raise Unavailable(f"rate limiter unavailable: {exc}", 1) from exc


def _refusal(item: RateLimitItem, remaining: int, reset_time: float) -> RateLimited:
    retry = max(1, math.ceil(reset_time - time.time()))
    headers = {
        "Retry-After": str(retry),
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(retry),
    }
    return RateLimited(
        f"rate limit of {item} exceeded for this API key",
        {"limit": str(item), "retry_after_s": retry},
        headers=headers,
    )
