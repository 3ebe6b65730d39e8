"""How full the idempotency store is, how big it must be, and the alarm before it is full.

Redis runs with ``noeviction``: once ``used_memory`` reaches ``maxmemory`` every write is
refused, so every POST answers 503 until keys expire. The sizing rule (docs/operations.md):

    maxmemory >= (rate x TTL x bytes per entry + baseline) / fill target

The pure part (`StoreFill`, `required_bytes`, `FillAlarm`) is unit-tested; `watch` polls
Redis (``INFO memory``, ``DBSIZE``) into the API's Prometheus gauges and its log.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import Gauge
from redis.exceptions import RedisError

log = logging.getLogger("ingest_api.store_capacity")

# Measured with MEMORY USAGE (tests/integration/ingest_api/test_store_capacity.py): one
# accepted transaction's entry on Redis 7.0, and an empty Redis's own memory.
ENTRY_BYTES = 136
BASELINE_BYTES = 1_000_000

USED = Gauge("sentinel_api_idempotency_store_used_bytes", "Redis used_memory")
LIMIT = Gauge(
    "sentinel_api_idempotency_store_max_bytes",
    "Redis maxmemory (the machine's memory when maxmemory is 0)",
)
FILL = Gauge("sentinel_api_idempotency_store_fill_ratio", "used_memory / maxmemory")
KEYS = Gauge("sentinel_api_idempotency_store_keys", "keys in the store's Redis database")
NEAR_FULL = Gauge(
    "sentinel_api_idempotency_store_near_full",
    "1 while the fill ratio is at or above SENTINEL_API_IDEMPOTENCY_STORE_WARN_RATIO",
)


@dataclass(frozen=True, slots=True)
class StoreFill:
    used_bytes: int
    max_bytes: int  # 0: unknown (no maxmemory and no machine size reported)
    keys: int

    @property
    def ratio(self) -> float:
        return self.used_bytes / self.max_bytes if self.max_bytes else 0.0


def fill_from_info(memory: Mapping[str, Any], keys: int) -> StoreFill:
    """The fill level from ``INFO memory``; without ``maxmemory`` Redis grows until the
    machine's memory is gone, so that is the ceiling then."""
    ceiling = int(memory.get("maxmemory", 0)) or int(memory.get("total_system_memory", 0))
    return StoreFill(int(memory.get("used_memory", 0)), ceiling, keys)


def required_bytes(
    rate_per_s: float,
    ttl_s: float,
    entry_bytes: int = ENTRY_BYTES,
    fill_target: float = 0.8,
    baseline_bytes: int = BASELINE_BYTES,
) -> int:
    """The ``maxmemory`` that holds a TTL's worth of keys at ``rate_per_s`` POSTs a second
    and stays under ``fill_target`` (the warning threshold, so a normal day never warns)."""
    if not 0 < fill_target <= 1:
        raise ValueError("fill_target must be in (0, 1]")
    return math.ceil((rate_per_s * ttl_s * entry_bytes + baseline_bytes) / fill_target)


def sustainable_rate(
    max_bytes: int,
    ttl_s: float,
    entry_bytes: int = ENTRY_BYTES,
    fill_target: float = 0.8,
    baseline_bytes: int = BASELINE_BYTES,
) -> float:
    """The POST rate a store of ``max_bytes`` holds for a whole TTL (the inverse of the above)."""
    return max(0.0, (max_bytes * fill_target - baseline_bytes) / (ttl_s * entry_bytes))


class FillAlarm:
    """Says when the fill ratio crosses the warning threshold, once each way."""

    def __init__(self, warn_ratio: float) -> None:
        self.warn_ratio = warn_ratio
        self.raised = False

    def update(self, fill: StoreFill) -> str | None:
        """A log message when the alarm is raised or cleared by this reading, else None."""
        near = fill.max_bytes > 0 and fill.ratio >= self.warn_ratio
        if near == self.raised:
            return None
        self.raised = near
        if near:
            return (
                f"idempotency store {fill.ratio:.0%} full ({fill.used_bytes:,} of "
                f"{fill.max_bytes:,} bytes, {fill.keys:,} keys): past "
                f"{self.warn_ratio:.0%}; at 100 % every POST answers 503 (noeviction). "
                "Raise maxmemory or lower SENTINEL_API_IDEMPOTENCY_TTL_S (docs/operations.md)"
            )
        return f"idempotency store back under {self.warn_ratio:.0%} ({fill.ratio:.0%} full)"


def record(fill: StoreFill, alarm: FillAlarm) -> None:
    """Publish a reading to the gauges and log the alarm's changes."""
    USED.set(fill.used_bytes)
    LIMIT.set(fill.max_bytes)
    FILL.set(fill.ratio)
    KEYS.set(fill.keys)
    message = alarm.update(fill)
    NEAR_FULL.set(1 if alarm.raised else 0)
    if message is not None:
        (log.warning if alarm.raised else log.info)(message)


async def read_fill(client: aioredis.Redis) -> StoreFill:
    memory = await client.info("memory")
    return fill_from_info(memory, int(await client.dbsize()))


async def refresh(client: aioredis.Redis, alarm: FillAlarm) -> None:
    """One reading into the gauges; a Redis that does not answer leaves them as they were
    (readiness reports it)."""
    try:
        record(await read_fill(client), alarm)
    except RedisError as exc:
        log.debug("idempotency store fill not read: %s", exc)


async def watch(client: aioredis.Redis, alarm: FillAlarm, interval_s: float) -> None:
    """Read the fill level every ``interval_s``, whether or not anyone scrapes /metrics."""
    while True:
        await refresh(client, alarm)
        await asyncio.sleep(interval_s)
