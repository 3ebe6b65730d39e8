"""The dispatcher's Kafka edge for asyncio: a consumer driven from one worker thread, and a
producer whose acknowledgements resolve futures on the event loop.

librdkafka calls block, so each consumer runs every call on its own single thread (rebalance
callbacks arrive there too); the event loop stays free for HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from ledger_sink.errors import KafkaUnavailable
from ledger_sink.kafka_io import consume_ready, consumer_config
from ledger_sink.raw import RawRecord
from ledger_sink.webhooks.offsets import OffsetTracker, Place
from schemas.connections import KafkaConnection

R = TypeVar("R")
log = structlog.get_logger("ledger_sink.webhooks.kafka")


class AsyncConsumer:
    def __init__(
        self,
        kafka: KafkaConnection,
        group: str,
        topic: str,
        tracker: OffsetTracker,
        instance_id: str | None = None,
        session_timeout_ms: int = 45_000,
    ) -> None:
        self.tracker = tracker
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"consumer-{topic}")
        self._consumer = Consumer(consumer_config(kafka, group, instance_id, session_timeout_ms))
        self._consumer.subscribe([topic], on_revoke=self._on_revoke, on_lost=self._on_lost)

    async def poll(self, max_records: int, timeout_s: float) -> list[RawRecord]:
        return await self._call(partial(self._poll, max_records, timeout_s))

    async def commit(self, points: dict[Place, int]) -> None:
        if points:
            await self._call(partial(self._commit, points))

    async def pause(self) -> None:
        await self._call(lambda: self._consumer.pause(self._consumer.assignment()))

    async def resume(self) -> None:
        await self._call(lambda: self._consumer.resume(self._consumer.assignment()))

    async def close(self) -> None:
        await self._call(self._consumer.close)
        self._executor.shutdown(wait=True)

    async def _call(self, function: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    def _poll(self, max_records: int, timeout_s: float) -> list[RawRecord]:
        # At once, not when `max_records` have come: a delivery's latency is not a batch's.
        return consume_ready(self._consumer, max_records, timeout_s)

    def _commit(self, points: dict[Place, int]) -> None:
        if not points:
            return  # librdkafka answers an empty commit with _NO_OFFSET
        offsets = [TopicPartition(topic, part, offset) for (topic, part), offset in points.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            log.warning("offset commit failed; records will be redelivered", error=str(exc))
            return
        self.tracker.committed(points)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs on the consumer's thread, inside consume(): commit what is done, hand the rest
        # over to the partitions' next owner (which redelivers it).
        places = [(p.topic, p.partition) for p in partitions]
        self._commit(self.tracker.to_commit(places))
        self.tracker.forget(places)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.tracker.forget((p.topic, p.partition) for p in partitions)


class AsyncProducer:
    """Idempotent, acks=all; `send` returns once the broker stored the record."""

    def __init__(self, kafka: KafkaConnection, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": int(timeout_s * 1000),
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="webhook-producer", daemon=True)
        self._thread.start()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def delivered(error: KafkaError | None, _message: Message) -> None:
            loop.call_soon_threadsafe(_resolve, future, error)

        try:
            self._producer.produce(topic, value, key, headers=list(headers), on_delivery=delivered)
        except (BufferError, KafkaException) as exc:
            raise KafkaUnavailable(f"produce to {topic} failed: {exc}") from exc
        await future

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._producer.flush(self.timeout_s)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)


def _resolve(future: asyncio.Future[None], error: KafkaError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(KafkaUnavailable(f"not acknowledged: {error.str()}"))
