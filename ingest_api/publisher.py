"""Durable publication to Kafka (transactions, and the reference data the admin API changes).

A request is answered 2xx only after the broker acknowledged its records; when the broker
is down or slow the caller gets ``Unavailable`` (503), never a silent loss.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingest_api.errors import Unavailable
from schemas.connections import KafkaConnection
from schemas.topics import TRANSACTIONS


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """A record for the transactions topic, or for ``topic`` (reference data) when given."""

    key: bytes
    value: bytes | None
    topic: str | None = None


class KafkaPublisher:
    """Wraps one librdkafka producer; a background thread serves its delivery callbacks."""

    def __init__(self, kafka: KafkaConnection, linger_ms: float, timeout_ms: int) -> None:
        self.topic = f"{kafka.topic_prefix}{TRANSACTIONS.name}"
        self.timeout_s = timeout_ms / 1000
        self._brokers_down = threading.Event()
        self._stop = threading.Event()
        self._producer = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "lz4",
                "linger.ms": linger_ms,
                # Java's murmur2, as faust (aiokafka) and every JVM client use: one account maps
                # to the same partition whoever produces it (librdkafka's default is CRC32).
                "partitioner": "murmur2_random",
                # librdkafka gives up on a record after this; the request has already
                # answered 503 by then, so a late success cannot turn into a lost 2xx.
                "message.timeout.ms": timeout_ms,
                "error_cb": self._on_error,
            }
        )
        self._thread = threading.Thread(target=self._serve, name="kafka-producer", daemon=True)
        self._thread.start()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Produce all ``records`` and wait until the broker acknowledged every one."""
        if self._brokers_down.is_set():
            raise Unavailable("Kafka is unreachable; the transaction was not accepted", 2)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in records]
        try:
            for record, future in zip(records, futures, strict=True):
                self._producer.produce(
                    record.topic or self.topic,
                    record.value,
                    record.key,
                    on_delivery=_resolver(loop, future),
                )
        except BufferError as exc:
            raise Unavailable("the producer queue is full; retry shortly", 1) from exc
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self.timeout_s + 1)
        except (TimeoutError, KafkaException) as exc:
            raise Unavailable("Kafka did not acknowledge the transaction", 2) from exc

    def healthy(self) -> bool:
        return not self._brokers_down.is_set()

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._producer.flush(timeout_s)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down.set()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)
            if self._brokers_down.is_set():
                self._probe_brokers()

    def _probe_brokers(self) -> None:
        """While the brokers are down, fail fast; find out when they are back."""
        try:
            self._producer.list_topics(self.topic, timeout=1.0)
        except KafkaException:
            return
        self._brokers_down.clear()


def _resolver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]
) -> Callable[[KafkaError | None, Message], None]:
    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is None:
            loop.call_soon_threadsafe(_settle, future, None)
        else:
            loop.call_soon_threadsafe(_settle, future, KafkaException(error))

    return on_delivery


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
