"""The dispatcher's Kafka edge for asyncio: a consumer driven from one worker thread, and a
producer whose acknowledgements resolve futures on the event loop.

librdkafka calls block, so each consumer runs every call on its own single thread (rebalance
callbacks arrive there too); the event loop stays free for HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition

from ledger_sink.errors import KafkaUnavailable
from ledger_sink.kafka_io import consume_ready, group_consumer
from ledger_sink.webhooks.offsets import OffsetTracker, Place
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.kafka_edge import DeliveryFailed, Outbound, RawRecord

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
        fetch_gather_ms: int = 0,
    ) -> None:
        self.tracker = tracker
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"consumer-{topic}")
        self._errors = kafka_edge.ClientErrors(kafka)
        self._consumer = group_consumer(
            kafka, group, self._errors, instance_id, session_timeout_ms, fetch_gather_ms
        )
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
        records = consume_ready(self._consumer, max_records, timeout_s)
        self._errors.raise_if_refused()  # refused credentials: stop, with the reason
        return records

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
        self._producer = kafka_edge.AsyncProducer(
            kafka,
            "webhook-producer",
            {
                # librdkafka's partitioner, as the retry and dead-letter topics always had.
                **kafka_edge.LIBRDKAFKA_PARTITIONER,
                "linger.ms": 5,
                "message.timeout.ms": int(timeout_s * 1000),
            },
            poll_s=0.1,
        )

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        try:
            await self._producer.publish([Outbound(topic, key, value, tuple(headers))])
        except DeliveryFailed as exc:
            raise KafkaUnavailable(f"{topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.close(self.timeout_s)
