"""The Kafka edge of a replay: ranges from times or offsets, the records of a range, the
reference data and labels, and the optional output topic.

Every consumer here is throwaway: a random group id that is never joined or committed
(partitions are assigned directly, ``enable.auto.commit`` off), so a replay leaves no trace
on the cluster and never moves a live consumer group.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from decision_core.records import SourceRecord
from decision_core.reference import ReferenceData, topic_roles
from deploy.topics import TopicAdmin
from replay.errors import ReplayError
from replay.plan import LONGEST_WINDOW_MS, PartitionRange, is_short_warmup, to_ms
from schemas import kafka_edge
from schemas.codec import decode_label
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError
from schemas.follower import TopicFollower
from schemas.topics import DAY_MS, DECISIONS, DEFAULT_REPLICATION_FACTOR, TopicSpec

log = logging.getLogger("replay")
STALL_S = 30.0  # no record and no progress for this long: the broker is not answering


def throwaway_consumer(kafka: KafkaConnection, **extra: object) -> Consumer:
    return kafka_edge.consumer(
        kafka,
        f"sentinel-replay-{uuid.uuid4().hex}",  # never joined nor committed
        **{
            "enable.auto.offset.store": False,
            "auto.offset.reset": "error",
            "fetch.max.bytes": 64 * 1024 * 1024,
            "max.partition.fetch.bytes": 16 * 1024 * 1024,
            "fetch.wait.max.ms": 20,
            **extra,
        },
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """The range an analyst asked for: times or offsets (or neither: everything)."""

    since: datetime | None = None
    until: datetime | None = None
    start_offsets: Mapping[int, int] | None = None
    end_offsets: Mapping[int, int] | None = None
    partitions: set[int] | None = None
    warmup_ms: int | None = 0  # None: from the beginning of the topic


def resolve(kafka: KafkaConnection, topic: str, selection: Selection) -> list[PartitionRange]:
    """Each selected partition's warm-up, start and end offsets, against the broker now."""
    consumer = throwaway_consumer(kafka)
    try:
        wanted = _partitions(consumer, topic)
        if selection.partitions is not None:
            unknown = selection.partitions - set(wanted)
            if unknown:
                raise ReplayError(f"{topic} has no partition {sorted(unknown)}")
            wanted = sorted(selection.partitions)
        return [_range(consumer, topic, p, selection) for p in wanted]
    finally:
        consumer.close()


def partition_count(kafka: KafkaConnection, topic: str) -> int:
    """How many partitions ``topic`` has now: the count its keys' home partitions are
    reckoned among (``decision_core.placement``), as the agents reckon them."""
    consumer = throwaway_consumer(kafka)
    try:
        return len(_partitions(consumer, topic))
    finally:
        consumer.close()


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ReplayError(f"topic {topic!r} does not exist")
    return sorted(metadata.partitions)


def _range(consumer: Consumer, topic: str, partition: int, sel: Selection) -> PartitionRange:
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)

    def at_time(moment_ms: int) -> int:
        found = consumer.offsets_for_times([TopicPartition(topic, partition, moment_ms)], 30)
        offset = found[0].offset
        return high if offset < 0 else max(low, offset)  # -1: nothing at or after that time

    def clamp(offset: int) -> int:
        return min(high, max(low, offset))

    start = low if sel.since is None else at_time(to_ms(sel.since))
    if sel.start_offsets and partition in sel.start_offsets:
        start = clamp(sel.start_offsets[partition])
    end = high if sel.until is None else at_time(to_ms(sel.until))
    if sel.end_offsets and partition in sel.end_offsets:
        end = clamp(sel.end_offsets[partition])
    end = max(start, end)
    if sel.warmup_ms is None or start == low:
        # The whole partition before the range is read (or there is none): nothing is cold.
        return PartitionRange(partition, low, start, end)
    began = (
        to_ms(sel.since)
        if sel.since is not None
        else _timestamp_at(consumer, topic, partition, start, high)
    )
    if began is None:  # an empty range
        return PartitionRange(partition, start, start, end)
    warm_from = start if sel.warmup_ms == 0 else min(start, at_time(began - sel.warmup_ms))
    read_from_ms = began - sel.warmup_ms  # every record from then on is read
    cold = warm_from > low and is_short_warmup(sel.warmup_ms)
    return PartitionRange(
        partition, warm_from, start, end, read_from_ms + LONGEST_WINDOW_MS if cold else None
    )


def _timestamp_at(
    consumer: Consumer, topic: str, partition: int, offset: int, high: int
) -> int | None:
    """The broker timestamp of the record at (or first after) ``offset``."""
    if offset >= high:
        return None
    consumer.assign([TopicPartition(topic, partition, offset)])
    deadline = time.monotonic() + STALL_S
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                return int(msg.timestamp()[1])
        raise ReplayError(f"{topic}[{partition}]@{offset} not readable in {STALL_S:.0f} s")
    finally:
        consumer.unassign()


def read_ranges(
    consumer: Consumer, topic: str, parts: Sequence[PartitionRange], batch_size: int
) -> Iterator[list[SourceRecord]]:
    """The records of every ``[warm_from, end)``, each partition in offset order (partitions
    interleaved), ``batch_size`` at most at a time.

    All partitions are assigned at once: one partition after another would pay a fetch
    start-up per partition, which measured more than the reading itself.
    """
    last = {p.partition: p.end - 1 for p in parts if p.records}
    if not last:
        return
    consumer.assign([TopicPartition(topic, p.partition, p.warm_from) for p in parts if p.records])
    left = sum(p.records for p in parts)
    stalled_since = time.monotonic()
    try:
        while last:
            batch: list[SourceRecord] = []
            finished: set[int] = set()
            # Never ask for more than the ranges still hold: consume() would wait out its
            # timeout for records that are not part of them.
            for msg in consumer.consume(num_messages=max(1, min(batch_size, left)), timeout=0.5):
                error = msg.error()
                if error is not None:
                    raise ReplayError(f"reading {topic}: {error}")
                partition, offset = msg.partition() or 0, msg.offset() or 0
                end = last.get(partition)
                if end is None or offset > end:
                    finished.add(partition)
                    continue
                # Headers too: a forwarded copy is told from its original by one
                # (decision_core.placement).
                headers = tuple(kafka_edge.decode_headers(msg.headers()).items())
                batch.append(
                    SourceRecord(
                        topic,
                        partition,
                        offset,
                        msg.timestamp()[1],
                        msg.key(),
                        msg.value(),
                        headers,
                    )
                )
                if offset == end:
                    finished.add(partition)
            if batch:
                stalled_since = time.monotonic()
                left -= len(batch)
                yield batch
            finished |= _passed(consumer, topic, last)
            if finished & last.keys():
                done = [TopicPartition(topic, p) for p in finished if p in last]
                consumer.incremental_unassign(done)
                for p in finished:
                    last.pop(p, None)
            if time.monotonic() - stalled_since > STALL_S:
                raise ReplayError(f"{topic}: no progress for {STALL_S:.0f} s before the range end")
    finally:
        consumer.unassign()


def _passed(consumer: Consumer, topic: str, last: dict[int, int]) -> set[int]:
    """Partitions whose position is past their last offset (offsets can skip, e.g. over
    transaction markers, so the last offset itself may never be delivered)."""
    positions = consumer.position([TopicPartition(topic, p) for p in last])
    return {tp.partition for tp in positions if tp.offset > last[tp.partition]}


def load_reference(kafka: KafkaConnection, timeout_s: float = 60.0) -> ReferenceData:
    """The rules, lists and profiles on the compacted topics now (as a starting agent does)."""
    data = ReferenceData()
    follower = TopicFollower(kafka, topic_roles(kafka.topic_prefix), data.apply, "reference")
    try:
        if not follower.start(timeout_s):
            raise ReplayError(f"reference topics not read within {timeout_s:.0f} s")
    finally:
        follower.stop()
    return data


def read_labels(kafka: KafkaConnection, topic: str) -> dict[str, bool]:
    """Transaction id -> is fraud, the latest verdict per transaction, from ``labels``."""
    consumer = throwaway_consumer(kafka)
    verdicts: dict[str, tuple[datetime, bool]] = {}
    skipped = 0
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return {}
        parts = []
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
            parts.append(PartitionRange(partition, low, low, high))
        for batch in read_ranges(consumer, topic, parts, 10_000):
            for record in batch:
                try:
                    label = decode_label(record.value)
                except SchemaError:
                    skipped += 1
                    continue
                seen = verdicts.get(label.transaction_id)
                if seen is None or label.labelled_at >= seen[0]:
                    verdicts[label.transaction_id] = (label.labelled_at, label.is_fraud)
    finally:
        consumer.close()
    if skipped:
        log.warning("skipped %d undecodable label records", skipped)
    return {tid: fraud for tid, (_at, fraud) in verdicts.items()}


def ensure_output_topic(kafka: KafkaConnection, name: str) -> None:
    """Create the replay's output topic if missing (shaped like ``decisions``, 7 days)."""
    admin = TopicAdmin(kafka)
    if name in admin.admin.list_topics(timeout=30).topics:
        return
    spec = TopicSpec(
        name,
        DECISIONS.partitions,
        "replayed decisions",
        {"retention.ms": str(7 * DAY_MS)},
        DEFAULT_REPLICATION_FACTOR,
    ).fit_to_cluster(admin.broker_count())
    try:
        admin.create([spec])
    except KafkaException as exc:
        raise ReplayError(f"cannot create {name!r}: {exc}") from exc


def output_producer(kafka: KafkaConnection) -> Producer:
    return kafka_edge.producer(kafka, **{"compression.type": "lz4", "linger.ms": 20})
