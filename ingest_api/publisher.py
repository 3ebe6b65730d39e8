"""Durable publication to Kafka (transactions, and the reference data the admin API changes).

A request is answered 2xx only after the broker acknowledged its records; when the broker
is down or slow the caller gets ``Unavailable`` (503), never a silent loss; when the broker
refuses this service (its credentials, or a topic its ACLs do not let it write) the 503 is
``KafkaRefused`` at once, not a timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Producer

from ingest_api.errors import KafkaRefused, Unavailable
from schemas.connections import KafkaConnection
from schemas.kafka_edge import (
    AUTHORIZATION_CODES,
    AsyncProducer,
    ClientErrors,
    DeliveryFailed,
    Outbound,
    QueueFull,
)
from schemas.topics import TRANSACTIONS


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    """A record for the transactions topic, or for ``topic`` (reference data) when given."""

    key: bytes
    value: bytes | None
    topic: str | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class KafkaPublisher:
    """Wraps the edge's asyncio producer; its delivery thread also notices the brokers come
    back after they were all down, or take its credentials after refusing them."""

    def __init__(self, kafka: KafkaConnection, linger_ms: float, timeout_ms: int) -> None:
        self.topic = f"{kafka.topic_prefix}{TRANSACTIONS.name}"
        self.timeout_s = timeout_ms / 1000
        self._brokers_down = threading.Event()
        self._errors = ClientErrors(kafka, also=self._on_error)
        self._producer = AsyncProducer(
            kafka,
            "kafka-producer",
            {
                "compression.type": "lz4",
                "linger.ms": linger_ms,
                # librdkafka gives up on a record after this; the request has already
                # answered 503 by then, so a late success cannot turn into a lost 2xx.
                "message.timeout.ms": timeout_ms,
                "error_cb": self._errors,
            },
            on_poll=self._probe_brokers,
        )

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Produce all ``records`` and wait until the broker acknowledged every one."""
        if self._errors.refused is not None:
            raise KafkaRefused("Kafka refuses this service's credentials; nothing was accepted", 30)
        if self._brokers_down.is_set():
            raise Unavailable("Kafka is unreachable; the transaction was not accepted", 2)
        outbound = [Outbound(r.topic or self.topic, r.key, r.value, r.headers) for r in records]
        try:
            await self._producer.publish(outbound, self.timeout_s + 1)
        except QueueFull as exc:
            raise Unavailable("the producer queue is full; retry shortly", 1) from exc
        except DeliveryFailed as exc:
            if exc.error is not None and exc.error.code() in AUTHORIZATION_CODES:
                raise KafkaRefused(
                    "Kafka does not authorize this service to write there", 30
                ) from exc
            raise Unavailable("Kafka did not acknowledge the transaction", 2) from exc

    def healthy(self) -> bool:
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the producer cannot publish now (for readiness), without hosts or names:
        the log has those."""
        if self._errors.refused is not None:
            return f"Kafka refuses this service: {self._errors.refused.why}"
        return "Kafka is unreachable" if self._brokers_down.is_set() else None

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.close(timeout_s)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down.set()

    def _probe_brokers(self, client: Producer) -> None:
        """While the brokers are down or refuse us, fail fast; find out when that ends."""
        if not self._brokers_down.is_set() and self._errors.refused is None:
            return
        try:
            client.list_topics(self.topic, timeout=1.0)
        except KafkaException:
            return
        self._brokers_down.clear()
        self._errors.clear()
