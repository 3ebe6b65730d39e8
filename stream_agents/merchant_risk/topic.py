"""The job's Kafka edge: which merchants the compacted topic holds, and publishing to it."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas import kafka_edge
from schemas.codec import encode_merchant_risk
from schemas.connections import KafkaConnection
from schemas.kafka_edge import DeliveryFailed, Outbound
from schemas.records import MerchantRisk


class PublishError(Exception):
    """The broker did not acknowledge every record of an hour."""


def held_merchants(kafka: KafkaConnection, topic: str, timeout_s: float = 30.0) -> set[str]:
    """Merchants whose latest record on ``topic`` is a value (not a tombstone)."""
    # The group is never joined: partitions are assigned.
    consumer = kafka_edge.consumer(kafka, "sentinel-merchant-risk-reader")
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
        self._producer = kafka_edge.producer(
            kafka,
            # librdkafka's partitioner: the compacted topic has always placed merchants so,
            # and a merchant moved to another partition would leave its old score live there.
            **kafka_edge.LIBRDKAFKA_PARTITIONER,
            **{
                "linger.ms": 20,
                "compression.type": "lz4",
                "message.timeout.ms": int(timeout_s * 1000),
            },
        )

    def publish(self, records: Sequence[tuple[str, MerchantRisk | None]]) -> None:
        outbound = (
            Outbound(
                self.topic, merchant.encode(), None if risk is None else encode_merchant_risk(risk)
            )
            for merchant, risk in records
        )
        try:
            kafka_edge.deliver_all(self._producer, outbound, self.timeout_s)
        except DeliveryFailed as exc:
            raise PublishError(f"{self.topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.flush(self.timeout_s)
