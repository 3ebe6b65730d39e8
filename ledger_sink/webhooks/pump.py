"""Reads one topic and runs a handler per record concurrently, committing offsets below the
oldest unfinished record; pauses the consumer when too many records are being handled.

A handler may finish a record in two steps: it returns once its work is done but for a
store it started (parked deliveries: ledger_sink.webhooks.parking), with that store's
future. The record is committed only once the future resolves, but it no longer counts
towards the pause: a dead subscriber's batches, flushed every second, must not hold back
the records the live subscribers are waiting for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ledger_sink import metrics
from ledger_sink.webhooks.kafka_edge import AsyncConsumer
from ledger_sink.webhooks.settings import WebhookSettings
from schemas.kafka_edge import RawRecord

log = structlog.get_logger("ledger_sink.webhooks.pump")
# What a handler returns: None (the record is done) or the future of what it still waits
# to have stored before the record may be committed.
Stored = asyncio.Future[Any] | None
Handler = Callable[[RawRecord], Awaitable[Stored]]


class Abandoned(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler that gives a record up at shutdown: it stays uncommitted."""


class Pump:
    def __init__(
        self, name: str, consumer: AsyncConsumer, handler: Handler, settings: WebhookSettings
    ) -> None:
        self.name, self.consumer, self.handler, self.settings = name, consumer, handler, settings
        self.tracker = consumer.tracker
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[asyncio.Future[Any]] = set()  # stores that records wait on
        self._waiting = 0  # records whose handler is done but whose store is not
        self._fatal: BaseException | None = None
        self._paused = False

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; then finish (or abandon, after the grace) and commit."""
        last_commit = time.monotonic()
        try:
            while not stop.is_set() and self._fatal is None:
                await self._flow_control()
                records = await self.consumer.poll(
                    self.settings.batch_size, self.settings.poll_timeout_s
                )
                for record in records:
                    self._start(record)
                if time.monotonic() - last_commit >= self.settings.commit_interval_s:
                    await self.consumer.commit(self.tracker.to_commit())
                    last_commit = time.monotonic()
            await self._drain()
            await self.consumer.commit(self.tracker.to_commit())
        finally:
            await self.consumer.close()
        if self._fatal is not None:
            raise self._fatal

    def _start(self, record: RawRecord) -> None:
        self.tracker.started((record.topic, record.partition), record.offset)
        task = asyncio.create_task(self._handle(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, record: RawRecord) -> None:
        try:
            stored = await self.handler(record)
        except Abandoned:
            return
        except Exception as exc:
            # A bug, not bad data (handlers dead-letter that): stop, and let the records
            # be redelivered after a restart rather than skip them.
            log.exception("handler failed; stopping", pump=self.name, offset=record.offset)
            self._fatal = exc
            return
        if stored is None or stored.done():
            self._finished(record, stored)
            return
        self._waiting += 1
        self._held.add(stored)
        stored.add_done_callback(self._held.discard)
        stored.add_done_callback(lambda done: self._finished(record, done, waited=True))

    def _finished(self, record: RawRecord, stored: Stored, *, waited: bool = False) -> None:
        if waited:
            self._waiting -= 1
        error = None if stored is None or stored.cancelled() else stored.exception()
        if error is not None:  # the store failed: stop, leaving the record uncommitted
            log.error("storing failed; stopping", pump=self.name, error=str(error))
            self._fatal = self._fatal or error
            return
        if stored is None or not stored.cancelled():
            self.tracker.finished((record.topic, record.partition), record.offset)

    async def _flow_control(self) -> None:
        pending = self.tracker.pending() - self._waiting
        metrics.WEBHOOK_PENDING.labels(self.name).set(pending)
        if pending >= self.settings.max_pending:
            # Again on every turn: partitions assigned by a rebalance arrive unpaused.
            await self.consumer.pause()
            self._paused = True
        elif self._paused and pending < self.settings.max_pending // 2:
            await self.consumer.resume()
            self._paused = False

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        if self._tasks:
            _done, pending = await asyncio.wait(
                set(self._tasks), timeout=self.settings.shutdown_grace_s
            )
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
                log.info("abandoned unfinished records", pump=self.name, count=len(pending))
        if self._held:  # stores under way: their records commit if they finish in time
            await asyncio.wait(set(self._held), timeout=max(0.0, deadline - time.monotonic()))
