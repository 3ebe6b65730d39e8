"""Ranges from times and offsets against the real broker, and reading them in order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer

from replay.plan import DEFAULT_WARMUP_MS, LONGEST_WINDOW_MS, to_ms
from replay.source import Selection, read_ranges, resolve, throwaway_consumer
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec

pytestmark = pytest.mark.integration
instant: dict[str, datetime] = {}  # when the pause on partition 0 happened


@pytest.fixture
def topic(project_topics: dict[str, TopicSpec]) -> Iterator[tuple[KafkaConnection, str]]:
    """The test's transactions topic: 20 records on partition 0, 10 on partition 1, with a
    pause after the first 10 of partition 0 (the instant is in ``instant``)."""
    name = project_topics["transactions"].name
    kafka = KafkaConnection(topic_prefix=name.removesuffix("transactions"))
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for i in range(10):
        producer.produce(name, f"p0-{i}".encode(), b"k", partition=0)
    producer.flush(10)
    time.sleep(0.3)
    instant["at"] = datetime.now(UTC)
    time.sleep(0.3)
    for i in range(10, 20):
        producer.produce(name, f"p0-{i}".encode(), b"k", partition=0)
    for i in range(10):
        producer.produce(name, f"p1-{i}".encode(), b"k", partition=1)
    assert producer.flush(10) == 0
    yield kafka, name


def ranges(
    kafka: KafkaConnection, name: str, **selection: object
) -> dict[int, tuple[int, int, int]]:
    parts = resolve(kafka, name, Selection(**selection))  # type: ignore[arg-type]
    return {p.partition: (p.warm_from, p.start, p.end) for p in parts if p.partition < 2}


def test_times_resolve_per_partition_with_warm_up(topic: tuple[KafkaConnection, str]) -> None:
    kafka, name = topic
    since = instant["at"]
    assert ranges(kafka, name, since=since, warmup_ms=DEFAULT_WARMUP_MS) == {
        0: (0, 10, 20),
        1: (0, 0, 10),
    }
    assert ranges(kafka, name, since=since, warmup_ms=0) == {0: (10, 10, 20), 1: (0, 0, 10)}
    assert ranges(kafka, name, until=since, warmup_ms=0) == {0: (0, 0, 10), 1: (0, 0, 0)}


def test_offsets_override_times_and_warm_up_from_the_start_record(
    topic: tuple[KafkaConnection, str],
) -> None:
    kafka, name = topic
    chosen = ranges(
        kafka, name, start_offsets={0: 15}, end_offsets={0: 18, 1: 4}, warmup_ms=DEFAULT_WARMUP_MS
    )
    assert chosen == {0: (0, 15, 18), 1: (0, 0, 4)}
    assert ranges(kafka, name, start_offsets={0: 15}, warmup_ms=None)[0] == (0, 15, 20)
    only = resolve(kafka, name, Selection(partitions={1}))
    assert [(p.partition, p.records) for p in only] == [(1, 10)]


def test_a_short_warm_up_marks_until_when_its_records_are_decided_cold(
    topic: tuple[KafkaConnection, str],
) -> None:
    kafka, name = topic
    since = instant["at"]

    def cold(**selection: object) -> dict[int, int | None]:
        parts = resolve(kafka, name, Selection(**selection))  # type: ignore[arg-type]
        return {p.partition: p.cold_until_ms for p in parts if p.partition < 2}

    # Partition 0 was read from the range's start only; partition 1's range starts at its
    # first record, so nothing of it was left unread.
    assert cold(since=since, warmup_ms=0) == {0: to_ms(since) + LONGEST_WINDOW_MS, 1: None}
    # A warm-up that reaches the first record, or the longest window: nothing is cold.
    assert cold(since=since, warmup_ms=3_600_000) == {0: None, 1: None}
    assert cold(since=since, warmup_ms=DEFAULT_WARMUP_MS) == {0: None, 1: None}
    assert cold(since=since, warmup_ms=None) == {0: None, 1: None}
    # From an offset: the start record's own time.
    parts = resolve(kafka, name, Selection(start_offsets={0: 15}, warmup_ms=0))
    consumer = throwaway_consumer(kafka)
    try:
        (batch, *_rest) = read_ranges(consumer, name, [parts[0]], 1)
    finally:
        consumer.close()
    assert parts[0].cold_until_ms == batch[0].timestamp_ms + LONGEST_WINDOW_MS


def test_reading_gives_each_partition_in_offset_order_and_stops_at_the_end(
    topic: tuple[KafkaConnection, str],
) -> None:
    kafka, name = topic
    parts = resolve(kafka, name, Selection(start_offsets={0: 5}, end_offsets={0: 12, 1: 3}))
    consumer = throwaway_consumer(kafka)
    try:
        records = [r for batch in read_ranges(consumer, name, parts, 4) for r in batch]
    finally:
        consumer.close()
    by_partition = {p: [r.value for r in records if r.partition == p] for p in (0, 1)}
    assert by_partition == {
        0: [f"p0-{i}".encode() for i in range(5, 12)],  # no warm-up asked
        1: [f"p1-{i}".encode() for i in range(3)],
    }
