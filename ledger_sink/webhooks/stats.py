"""Delivery statistics per subscription and minute: counted in memory on the delivery path
(a dict update, never I/O, never raising into a delivery) and upserted into
``webhook_delivery_stats`` every few seconds, one statement per flush, by a task of its own.

A flush that fails puts its counts back to be written with the next one; if the database
stays away, the oldest minutes beyond ``max_rows`` are dropped (counted in a metric) so the
dispatcher's memory stays bounded. Counts are added to a row's, never replace it, so
several dispatcher replicas share a (subscription, minute) row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg import sql

from ledger_sink import metrics
from schemas.webhook_stats import BUCKETS, bucket, failure_class

log = structlog.get_logger("ledger_sink.webhooks.stats")
Key = tuple[str, int]  # (subscription id, minute as epoch seconds)


@dataclass(slots=True)
class Counts:
    """One (subscription, minute)'s counts; field names are the table's columns."""

    deliveries: int = 0
    successes: int = 0
    failed_4xx: int = 0
    failed_5xx: int = 0
    failed_other: int = 0
    failed_no_response: int = 0
    retries_scheduled: int = 0
    retries_taken: int = 0
    dead_lettered: int = 0
    latency_ms_sum: float = 0.0
    latency_count: int = 0
    latency_buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    last_status: int | None = None
    last_attempt_at: float | None = None  # epoch seconds

    def add(self, other: Counts) -> None:
        """Add ``other``'s counts; the later attempt's status wins."""
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        pairs = zip(self.latency_buckets, other.latency_buckets, strict=True)
        self.latency_buckets = [a + b for a, b in pairs]
        if other.last_attempt_at is not None and (
            self.last_attempt_at is None or other.last_attempt_at >= self.last_attempt_at
        ):
            self.last_status, self.last_attempt_at = other.last_status, other.last_attempt_at


_SUMMED = tuple(
    f.name
    for f in fields(Counts)
    if f.name not in ("latency_buckets", "last_status", "last_attempt_at")
)


class DeliveryStats:
    """The counts not yet written, by (subscription, minute of ``wall`` time)."""

    def __init__(self, wall: Callable[[], float] = time.time, max_rows: int = 50_000) -> None:
        self.wall, self.max_rows = wall, max_rows
        self._rows: dict[Key, Counts] = {}

    def _counts(self, subscription_id: str) -> Counts:
        key = (subscription_id, int(self.wall() // 60) * 60)
        found = self._rows.get(key)
        if found is None:
            found = self._rows[key] = Counts()
        return found

    def attempted(self, subscription_id: str, status: int | None, ok: bool, seconds: float) -> None:
        """One HTTP attempt: its outcome, ``status`` (None: no HTTP answer), its latency."""
        counts = self._counts(subscription_id)
        counts.deliveries += 1
        if ok:
            counts.successes += 1
        else:
            name = f"failed_{failure_class(status)}"
            setattr(counts, name, getattr(counts, name) + 1)
        ms = seconds * 1000
        counts.latency_ms_sum += ms
        counts.latency_count += 1
        counts.latency_buckets[bucket(ms)] += 1
        counts.last_status, counts.last_attempt_at = status, self.wall()

    def retries_scheduled(self, subscription_id: str, count: int = 1) -> None:
        """Deliveries written back for a later attempt (retry records or parked entries)."""
        self._counts(subscription_id).retries_scheduled += count

    def retries_taken(self, subscription_id: str, count: int = 1) -> None:
        """Deliveries read back off the retry topic, come due."""
        self._counts(subscription_id).retries_taken += count

    def dead_lettered(self, subscription_id: str) -> None:
        self._counts(subscription_id).dead_lettered += 1

    def take(self) -> dict[Key, Counts]:
        """Everything counted so far; counting starts afresh."""
        taken, self._rows = self._rows, {}
        return taken

    def restore(self, taken: dict[Key, Counts]) -> int:
        """Put back the counts of a flush that failed; returns how many rows were dropped
        (the oldest minutes) to stay within ``max_rows``."""
        for key, counts in taken.items():
            found = self._rows.get(key)
            if found is not None:
                counts.add(found)  # counted since: its last status is the later one
            self._rows[key] = counts
        excess = len(self._rows) - self.max_rows
        if excess <= 0:
            return 0
        for key in sorted(self._rows, key=lambda k: k[1])[:excess]:
            del self._rows[key]
        return excess


_COLUMNS = ("subscription_id", "minute", *(f.name for f in fields(Counts)))
_ADDED = (*_SUMMED,)


def upsert_statement(rows: int) -> sql.Composed:
    """One INSERT of ``rows`` rows adding to existing rows (``rows`` >= 1)."""
    width = len(_COLUMNS)
    row = sql.SQL("({})").format(sql.SQL(", ").join([sql.Placeholder()] * width))
    added = [sql.SQL("{0} = t.{0} + excluded.{0}").format(sql.Identifier(c)) for c in _ADDED]
    return sql.SQL(
        "INSERT INTO webhook_delivery_stats AS t ({columns}) VALUES {rows}"
        " ON CONFLICT (subscription_id, minute) DO UPDATE SET {added},"
        " latency_buckets = ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0)"
        " FROM unnest(t.latency_buckets, excluded.latency_buckets) WITH ORDINALITY AS u(a, b, i)"
        " ORDER BY i),"
        " last_status = CASE WHEN excluded.last_attempt_at IS NOT NULL AND"
        " (t.last_attempt_at IS NULL OR excluded.last_attempt_at >= t.last_attempt_at)"
        " THEN excluded.last_status ELSE t.last_status END,"
        " last_attempt_at = greatest(t.last_attempt_at, excluded.last_attempt_at),"
        " updated_at = now()"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
        rows=sql.SQL(", ").join([row] * rows),
        added=sql.SQL(", ").join(added),
    )


def parameters(taken: dict[Key, Counts]) -> list[Any]:
    """The statement's parameters, rows in key order: two replicas flushing the same rows
    lock them in the same order and never deadlock."""
    values: list[Any] = []
    for (sub_id, minute), counts in sorted(taken.items()):
        at = counts.last_attempt_at
        values += [sub_id, datetime.fromtimestamp(minute, UTC)]
        values += [getattr(counts, name) for name in _SUMMED]
        values += [counts.latency_buckets, counts.last_status]
        values.append(None if at is None else datetime.fromtimestamp(at, UTC))
    return values


class StatsFlusher:
    """Writes ``stats`` every ``interval_s`` on a connection of its own until stopped, then
    once more."""

    def __init__(
        self, stats: DeliveryStats, dsn: str, interval_s: float, timeout_s: float = 10.0
    ) -> None:
        self.stats, self.dsn, self.interval_s, self.timeout_s = stats, dsn, interval_s, timeout_s
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
                except TimeoutError:
                    pass
                await self.flush()
        finally:
            await self.close()

    async def flush(self) -> int:
        """Write what was counted; returns the rows written (0 on failure: kept for later)."""
        taken = self.stats.take()
        if not taken:
            return 0
        try:
            async with asyncio.timeout(self.timeout_s):
                conn = await self._connection()
                await conn.execute(upsert_statement(len(taken)), parameters(taken))
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self.close()  # a timed-out statement leaves the connection unusable
            dropped = self.stats.restore(taken)
            metrics.WEBHOOK_STATS_FLUSHES.labels("failed").inc()
            metrics.WEBHOOK_STATS_DROPPED.inc(dropped)
            log.warning("delivery statistics not written", error=str(exc), kept=len(taken))
            return 0
        metrics.WEBHOOK_STATS_FLUSHES.labels("written").inc()
        return len(taken)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=max(2, int(self.timeout_s))
            )
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
