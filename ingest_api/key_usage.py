"""``api_keys.last_used_at``, batched: at most one write per key per interval, per process.

Authentication only notes the key in memory (``touch``); a background task writes every key
noted since its last round in one UPDATE. A request never waits for that write, and a busy
key costs one row update a minute, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import math

from psycopg import Error as PsycopgError
from psycopg_pool import AsyncConnectionPool

from ingest_api.keys import mark_used

log = logging.getLogger("ingest_api.key_usage")


class UsageRecorder:
    """Which keys were used and not yet written, and when each was last written."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._pending: set[str] = set()
        self._written: dict[str, float] = {}

    def touch(self, key_id: str, now: float) -> None:
        if now - self._written.get(key_id, -math.inf) >= self.interval_s:
            self._pending.add(key_id)

    def take(self, now: float) -> list[str]:
        """The keys to write now, marked as written at ``now``."""
        due = sorted(self._pending)
        self._pending.clear()
        for key_id in due:
            self._written[key_id] = now
        return due

    async def flush(self, pool: AsyncConnectionPool, now: float) -> None:
        due = self.take(now)
        if not due:
            return
        try:
            async with pool.connection(timeout=5) as conn:
                await mark_used(conn, due)
        except (PsycopgError, TimeoutError) as exc:
            # Bookkeeping, not a guarantee: a lost round is written by a later use.
            for key_id in due:
                self._written.pop(key_id, None)
            log.warning("api_keys.last_used_at not written for %d keys: %r", len(due), exc)

    async def run(self, pool: AsyncConnectionPool) -> None:
        """Flush every ``interval_s`` until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush(pool, loop.time())
