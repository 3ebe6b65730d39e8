"""The ledger consumers' offset commits on the real broker (``kafka_io.BatchConsumer``): the
offsets of done batches are committed at most once per commit interval, and in any case
after an idle poll past it, when the partitions are revoked, and at close."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from confluent_kafka import Producer, TopicPartition

from deploy.topics import TopicAdmin, apply
from ledger_sink.kafka_io import BatchConsumer
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.kafka_edge import RawRecord
from schemas.topics import TopicSpec
from tests.support.clocks import ManualClock

pytestmark = pytest.mark.integration

PARTITIONS = 2


@pytest.fixture
def topic(topic_admin: TopicAdmin, unique: str) -> Iterator[str]:
    spec = TopicSpec(f"test-{unique}.sink-offsets", PARTITIONS, "sink offset commits probe")
    apply(topic_admin, [spec])
    producer: Producer = kafka_edge.producer(KafkaConnection())
    for i in range(20):
        producer.produce(spec.name, value=f"record {i}".encode(), partition=i % PARTITIONS)
    assert producer.flush(30) == 0
    yield spec.name
    topic_admin.delete([spec.name])


def committed(group: str, topic: str) -> dict[int, int]:
    """The group's committed offset of each partition (-1001: none), read from outside it."""
    reader = kafka_edge.consumer(KafkaConnection(), group)
    try:
        found = reader.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
        return {tp.partition: tp.offset for tp in found}
    finally:
        reader.close()


def ends(records: list[RawRecord]) -> dict[int, int]:
    out: dict[int, int] = {}
    for record in records:
        out[record.partition] = max(out.get(record.partition, 0), record.offset + 1)
    return out


def read_all(consumer: BatchConsumer, count: int = 20) -> list[RawRecord]:
    records: list[RawRecord] = []
    deadline = time.monotonic() + 60
    while len(records) < count and time.monotonic() < deadline:
        records += consumer.poll(count, 1.0)
    assert len(records) == count
    return records


@contextmanager
def consuming(
    topic: str, group: str, interval_s: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[tuple[BatchConsumer, list[RawRecord]]]:
    """A consumer of ``group`` with that commit interval, and every record it read; closed
    after."""
    consumer = BatchConsumer(
        KafkaConnection(), group, topic, commit_interval_s=interval_s, clock=clock
    )
    try:
        yield consumer, read_all(consumer)
    finally:
        consumer.close()


def test_done_batches_wait_for_the_interval_and_are_committed_at_close(
    topic: str, unique: str
) -> None:
    group, clock = f"test-{unique}.sink", ManualClock(1_000.0)
    with consuming(topic, group, 1.0, clock) as (consumer, records):
        consumer.commit(records[:5])
        consumer.commit(records[5:])
        clock.now += 0.5
        assert consumer.poll(10, 0.2) == []  # idle, but within the interval
        assert set(committed(group, topic).values()) == {-1001}
    assert committed(group, topic) == ends(records)


def test_a_batch_done_past_the_interval_commits_everything_done(topic: str, unique: str) -> None:
    group, clock = f"test-{unique}.sink", ManualClock(1_000.0)
    with consuming(topic, group, 1.0, clock) as (consumer, records):
        consumer.commit(records[:10])
        clock.now += 1.0
        consumer.commit(records[10:])
        assert committed(group, topic) == ends(records)


def test_an_idle_poll_past_the_interval_commits_what_is_done(topic: str, unique: str) -> None:
    group, clock = f"test-{unique}.sink", ManualClock(1_000.0)
    with consuming(topic, group, 1.0, clock) as (consumer, records):
        consumer.commit(records)
        clock.now += 1.0
        assert consumer.poll(10, 0.2) == []
        assert committed(group, topic) == ends(records)


def test_no_interval_commits_every_batch_as_it_is_done(topic: str, unique: str) -> None:
    group = f"test-{unique}.sink"
    with consuming(topic, group, 0.0) as (consumer, records):
        consumer.commit(records[:1])
        assert committed(group, topic)[records[0].partition] == records[0].offset + 1


def test_revoked_partitions_hand_over_what_was_done_on_them(topic: str, unique: str) -> None:
    group = f"test-{unique}.sink"
    with consuming(topic, group, 60.0) as (first, records):
        first.commit(records)
        assert set(committed(group, topic).values()) == {-1001}
        # The second member's join revokes the first's partitions at its next poll.
        second = BatchConsumer(KafkaConnection(), group, topic, commit_interval_s=60.0)
        try:
            deadline = time.monotonic() + 30
            while committed(group, topic) != ends(records) and time.monotonic() < deadline:
                assert first.poll(10, 0.5) == []
                assert second.poll(10, 0.5) == []  # nothing left to deliver again
            assert committed(group, topic) == ends(records)
        finally:
            second.close()
