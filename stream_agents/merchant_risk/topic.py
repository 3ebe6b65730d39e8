"""The job's Kafka edge: which merchants the compacted topic holds, and publishing to it."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from schemas.codec import encode_merchant_risk
from schemas.connections import KafkaConnection
from schemas.records import MerchantRisk


class PublishError(Exception):
    """The broker did not acknowledge every record of an hour."""


def held_merchants(kafka: KafkaConnection, topic: str, timeout_s: float = 30.0) -> set[str]:
    """Merchants whose latest record on ``topic`` is a value (not a tombstone)."""
    consumer = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "group.id": "sentinel-merchant-risk-reader",  # never joined: partitions assigned
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
        if metadata.error is not None:
            raise PublishError(f"{topic}: {metadata.error.str()}")
        ends = {}
        for partition in metadata.partitions:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
            )
            if high > 0:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        return _read_to_end(consumer, ends, timeout_s)
    finally:
        consumer.close()


def _read_to_end(consumer: Consumer, ends: dict[int, int], timeout_s: float) -> set[str]:
    held: set[str] = set()
    remaining = dict(ends)
    idle = 0.0
    while remaining:
        messages = consumer.consume(num_messages=1000, timeout=0.5)
        idle = 0.0 if messages else idle + 0.5
        if idle > timeout_s:
            raise PublishError(f"could not read the topic to its end in {timeout_s} s")
        for msg in messages:
            if msg.error() is not None:
                continue
            key = (msg.key() or b"").decode()
            if msg.value() is None:
                held.discard(key)
            else:
                held.add(key)
            partition, offset = msg.partition() or 0, msg.offset() or 0
            if partition in remaining and offset + 1 >= remaining[partition]:
                del remaining[partition]
    return held


class RiskPublisher:
    """An idempotent, acks=all producer; ``publish`` returns once every record is stored."""

    def __init__(self, kafka: KafkaConnection, topic: str, timeout_s: float = 60.0) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "message.timeout.ms": int(timeout_s * 1000),
            }
        )

    def publish(self, records: Sequence[tuple[str, MerchantRisk | None]]) -> None:
        failures: list[str] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error.str())

        for merchant, risk in records:
            value = None if risk is None else encode_merchant_risk(risk)
            while True:
                try:
                    self._producer.produce(
                        self.topic, value, merchant.encode(), on_delivery=delivered
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)  # the local queue is full: let it drain
            self._producer.poll(0)
        if self._producer.flush(self.timeout_s) or failures:
            raise PublishError(f"{self.topic} did not acknowledge: {failures[:3]}")

    def close(self) -> None:
        self._producer.flush(self.timeout_s)
