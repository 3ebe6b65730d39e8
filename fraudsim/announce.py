"""Announcing registry versions on the compacted models topic, and reading what is announced.

The Kafka edge of ``sentinel models promote|challenge|announced`` (and of ``sentinel train``
when it makes its model current). One record per role, keyed by the role; clearing a role is
a tombstone. Running agents follow the topic (``decision_core.live_models.ModelBook``).
"""

from __future__ import annotations

import getpass
import socket
import time
import uuid
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from schemas import kafka_edge
from schemas.codec import decode_model_announcement, encode_model_announcement
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError
from schemas.kafka_edge import DeliveryFailed, Outbound
from schemas.records import ModelAnnouncement
from schemas.topics import MODEL_ROLES, MODELS


class AnnounceError(Exception):
    """The models topic could not be written or read."""


def models_topic(kafka: KafkaConnection) -> str:
    return f"{kafka.topic_prefix}{MODELS.name}"


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def announce(
    kafka: KafkaConnection,
    role: str,
    version: str | None,
    forced: bool = False,
    timeout_s: float = 15.0,
    by: str | None = None,
) -> ModelAnnouncement | None:
    """Announce ``version`` in ``role`` (None clears the role); returns once the broker holds it.
    ``by`` names who announced it (default: the OS user at this host)."""
    if role not in MODEL_ROLES:
        raise ValueError(f"unknown model role {role!r}, expected one of {MODEL_ROLES}")
    record = None
    value = None
    if version is not None:
        record = ModelAnnouncement(
            role=role,
            version=version,
            announced_at=datetime.now(UTC),
            announced_by=by or _who(),
            forced=forced,
        )
        value = encode_model_announcement(record)
    producer = kafka_edge.producer(
        kafka,
        # librdkafka's partitioner: the compacted topic has always placed roles so.
        **kafka_edge.LIBRDKAFKA_PARTITIONER,
        **{"message.timeout.ms": int(timeout_s * 1000)},
    )
    try:
        outbound = [Outbound(models_topic(kafka), role.encode(), value)]
        kafka_edge.deliver_all(producer, outbound, timeout_s + 5)
    except DeliveryFailed as exc:
        raise AnnounceError(f"cannot announce on {models_topic(kafka)}: {exc}") from exc
    return record


def announced(kafka: KafkaConnection, timeout_s: float = 10.0) -> dict[str, ModelAnnouncement]:
    """The latest announcement of each role that is not cleared, read to the topic's end."""
    topic = models_topic(kafka)
    consumer = kafka_edge.consumer(kafka, f"sentinel-models-cli-{uuid.uuid4().hex}")
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise AnnounceError(f"topic {topic} does not exist: run `sentinel topics apply`")
        deadline = time.monotonic() + timeout_s
        ends = {}
        for partition in metadata.partitions:
            high = _end_offset(consumer, TopicPartition(topic, partition), deadline)
            if high > 0:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        return _read_to(consumer, ends, timeout_s)
    except KafkaException as exc:
        raise AnnounceError(f"cannot read {topic}: {exc}") from exc
    finally:
        consumer.close()


def _end_offset(consumer: Consumer, partition: TopicPartition, deadline: float) -> int:
    # A topic created a moment ago may not have its leader yet (NOT_LEADER_FOR_PARTITION,
    # which librdkafka does not flag retriable here): retry whatever fails, up to the deadline.
    while True:
        try:
            _low, high = consumer.get_watermark_offsets(partition, timeout=5)
            return int(high)
        except KafkaException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _read_to(
    consumer: Consumer, ends: dict[int, int], timeout_s: float
) -> dict[str, ModelAnnouncement]:
    latest: dict[str, ModelAnnouncement] = {}
    deadline = time.monotonic() + timeout_s
    while ends and time.monotonic() < deadline:
        for msg in consumer.consume(500, 0.2):
            if msg.error() is not None:
                continue
            role = (msg.key() or b"").decode()
            if msg.value() is None:
                latest.pop(role, None)
            elif (record := _decode(msg.value())) is not None:
                latest[role] = record
            if (msg.offset() or 0) + 1 >= ends.get(msg.partition() or 0, 0):
                ends.pop(msg.partition() or 0, None)
    if ends:
        raise AnnounceError(f"models topic not read to its end within {timeout_s:g} s")
    return latest


def _decode(value: bytes | None) -> ModelAnnouncement | None:
    """None for a record nobody can read: it changes nothing, as the agents skip it too."""
    try:
        return decode_model_announcement(value)
    except SchemaError:
        return None
