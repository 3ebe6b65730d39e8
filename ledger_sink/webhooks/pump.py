"""Reads one topic and runs a handler per record concurrently, committing offsets below the
oldest unfinished record; pauses the consumer when too many records are unfinished."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from ledger_sink import metrics
from ledger_sink.raw import RawRecord
from ledger_sink.webhooks.kafka_edge import AsyncConsumer
from ledger_sink.webhooks.settings import WebhookSettings

log = structlog.get_logger("ledger_sink.webhooks.pump")
Handler = Callable[[RawRecord], Awaitable[None]]


class Abandoned(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler that gives a record up at shutdown: it stays uncommitted."""


class Pump:
    def __init__(
        self, name: str, consumer: AsyncConsumer, handler: Handler, settings: WebhookSettings
    ) -> None:
        self.name, self.consumer, self.handler, self.settings = name, consumer, handler, settings
        self.tracker = consumer.tracker
        self._tasks: set[asyncio.Task[None]] = set()
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
            await self.handler(record)
        except Abandoned:
            return
        except Exception as exc:
            # A bug, not bad data (handlers dead-letter that): stop, and let the records
            # be redelivered after a restart rather than skip them.
            log.exception("handler failed; stopping", pump=self.name, offset=record.offset)
            self._fatal = exc
            return
        self.tracker.finished((record.topic, record.partition), record.offset)

    async def _flow_control(self) -> None:
        pending = self.tracker.pending()
        metrics.WEBHOOK_PENDING.labels(self.name).set(pending)
        if pending >= self.settings.max_pending:
            # Again on every turn: partitions assigned by a rebalance arrive unpaused.
            await self.consumer.pause()
            self._paused = True
        elif self._paused and pending < self.settings.max_pending // 2:
            await self.consumer.resume()
            self._paused = False

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(
            set(self._tasks), timeout=self.settings.shutdown_grace_s
        )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            log.info("abandoned unfinished records", pump=self.name, count=len(pending))
