"""``schemas.consuming.ready_messages`` on the real broker: a batch starts at its first
record and takes what else is fetched, or arrives within its gather window."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from deploy.topics import TopicAdmin, apply
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.consuming import ready_messages
from schemas.topics import TopicSpec

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(topic_admin: TopicAdmin, unique: str) -> Iterator[str]:
    spec = TopicSpec(f"test-{unique}.ready", 1, "ready_messages probe")
    apply(topic_admin, [spec])
    yield spec.name
    topic_admin.delete([spec.name])


@pytest.fixture
def producer(kafka_connection: KafkaConnection) -> Producer:
    return kafka_edge.producer(kafka_connection)


@pytest.fixture
def consumer(kafka_connection: KafkaConnection, topic: str, unique: str) -> Iterator[Consumer]:
    consumer = kafka_edge.consumer(kafka_connection, f"test-{unique}.ready")
    consumer.assign([TopicPartition(topic, 0, 0)])
    yield consumer
    consumer.close()


def send(producer: Producer, topic: str, *values: str) -> None:
    for value in values:
        producer.produce(topic, value=value.encode())
    assert producer.flush(30) == 0


def read_while_sending(
    consumer: Consumer, producer: Producer, topic: str, value: str, after_s: float, gather_s: float
) -> list[Message]:
    """A batch read while ``value`` is sent ``after_s`` seconds into the read."""
    later = threading.Timer(after_s, send, (producer, topic, value))
    later.start()
    try:
        return ready_messages(consumer, 10, 10, gather_s=gather_s)
    finally:
        later.join()


def values(messages: list[Message]) -> list[str]:
    assert all(message.error() is None for message in messages)
    return [(message.value() or b"").decode() for message in messages]


def test_nothing_to_read_returns_empty_after_the_timeout(consumer: Consumer) -> None:
    started = time.monotonic()
    assert ready_messages(consumer, 10, 0.3) == []
    assert time.monotonic() - started >= 0.25


def test_a_batch_holds_what_is_there_up_to_its_size(
    producer: Producer, consumer: Consumer, topic: str
) -> None:
    send(producer, topic, *(f"r{n}" for n in range(8)))
    # The gather window lets the consumer fetch all eight however the first fetch split them.
    first = ready_messages(consumer, 3, 10, gather_s=2)
    rest = ready_messages(consumer, 10, 10, gather_s=2)
    assert values(first) == ["r0", "r1", "r2"]
    assert values(rest) == [f"r{n}" for n in range(3, 8)]


def test_without_a_gather_window_a_batch_does_not_wait_for_later_records(
    producer: Producer, consumer: Consumer, topic: str
) -> None:
    send(producer, topic, "early")
    batch = read_while_sending(consumer, producer, topic, "later", after_s=1.0, gather_s=0)
    assert values(batch) == ["early"]
    assert values(ready_messages(consumer, 10, 10)) == ["later"]


def test_the_gather_window_takes_records_arriving_after_the_first(
    producer: Producer, consumer: Consumer, topic: str
) -> None:
    send(producer, topic, "first")
    batch = read_while_sending(consumer, producer, topic, "later", after_s=0.3, gather_s=3)
    assert values(batch) == ["first", "later"]
