"""The dlq commands' Kafka edge (confluent-kafka): bounded reads and transactional re-drives.

Reads use a consumer of their own, assigned (never subscribed) and never committing, and
stop at the high watermarks taken when they start, so a busy topic cannot keep them
running. Re-drives use one transactional producer per dead-letter topic: its fixed
``transactional.id`` fences any other re-drive of the same topic, and each re-produced
record is committed in one Kafka transaction with the mark that says it was re-driven.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.kafka_edge import DeliveryFailed, Outbound, RawRecord, raw_record

_TIMEOUT_S = 30.0


class DlqError(Exception):
    """Root of the dlq commands' errors: reported to the user, never a traceback."""


class TopicMissing(DlqError):
    """The topic does not exist (``sentinel topics apply`` creates the declared ones)."""


class Fenced(DlqError):
    """Another re-drive of the same dead-letter topic started: this one must stop."""


class RedriveFailed(DlqError):
    """The broker refused a re-drive transaction; it was aborted, nothing was re-driven."""


def _consumer(kafka: KafkaConnection) -> Consumer:
    return kafka_edge.consumer(
        kafka,
        # Required by the client, never used: the consumer is assigned and commits nothing.
        f"sentinel-dlq-{uuid.uuid4().hex}",
        **{"enable.partition.eof": True, "auto.offset.reset": "earliest"},
        # Marks are written in transactions: an aborted one never counts.
        **kafka_edge.READ_COMMITTED,
    )


def _partitions(consumer: Consumer, topic: str) -> list[int]:
    try:
        metadata = consumer.list_topics(topic, timeout=_TIMEOUT_S).topics.get(topic)
    except KafkaException as exc:
        raise DlqError(f"no metadata for {topic}: {exc}") from exc
    if metadata is None or metadata.error is not None:
        raise TopicMissing(f"topic {topic} does not exist")
    return sorted(metadata.partitions)


# A partition whose leader is moving, or a topic just created, answers these for a moment.
_TRANSIENT = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
    }
)


def _watermarks(consumer: Consumer, topic: str, partition: int) -> tuple[int, int]:
    """(low, high) of one partition, riding out a leader election (about 15 s at most)."""
    for attempt in range(30):
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=_TIMEOUT_S
            )
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is None or error.code() not in _TRANSIENT or attempt == 29:
                raise DlqError(f"{topic} [{partition}]: {exc}") from exc
            time.sleep(0.5)
    raise AssertionError("unreachable")


def topic_exists(kafka: KafkaConnection, topic: str) -> bool:
    consumer = _consumer(kafka)
    try:
        _partitions(consumer, topic)
        return True
    except TopicMissing:
        return False
    finally:
        consumer.close()


def read_all(
    kafka: KafkaConnection,
    topic: str,
    idle_timeout_s: float = _TIMEOUT_S,
    last: int | None = None,
) -> list[RawRecord]:
    """Every record of ``topic`` up to the high watermarks it had when the read started;
    with ``last``, only the offsets within ``last`` of each partition's high watermark (a
    bounded read: the console's pages)."""
    consumer = _consumer(kafka)
    try:
        return list(_bounded(consumer, topic, idle_timeout_s, last))
    finally:
        consumer.close()


def _bounded(
    consumer: Consumer, topic: str, idle_timeout_s: float, last: int | None = None
) -> Iterator[RawRecord]:
    ends: dict[int, int] = {}
    starts = []
    for partition in _partitions(consumer, topic):
        low, high = _watermarks(consumer, topic, partition)
        if last is not None:
            low = max(low, high - last)
        if high > low:
            ends[partition] = high
            starts.append(TopicPartition(topic, partition, low))
    if not ends:
        return
    consumer.assign(starts)
    last_progress = time.monotonic()
    while ends:
        messages = consumer.consume(num_messages=500, timeout=0.5)
        if messages:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > idle_timeout_s:
            raise DlqError(f"{topic}: no progress for {idle_timeout_s:.0f} s")
        for message in messages:
            error = message.error()
            partition = message.partition() or 0
            if error is not None:
                # End of partition: for a transactional topic the last offsets are commit
                # markers, which no message ever reaches.
                if error.code() == KafkaError._PARTITION_EOF:
                    ends.pop(partition, None)
                elif error.fatal():
                    raise DlqError(f"{topic}: {error.str()}")
                # Anything else librdkafka retries by itself; the idle timeout bounds it.
                continue
            if partition not in ends:
                continue
            offset = message.offset() or 0
            if offset < ends[partition]:
                yield raw_record(message)
            if offset >= ends[partition] - 1:
                ends.pop(partition)


def read_one(kafka: KafkaConnection, topic: str, partition: int, offset: int) -> RawRecord | None:
    """The record at ``partition:offset`` of ``topic``, or None when there is none (any more)."""
    consumer = _consumer(kafka)
    try:
        if partition not in _partitions(consumer, topic):
            return None
        low, high = _watermarks(consumer, topic, partition)
        if not low <= offset < high:
            return None
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + _TIMEOUT_S
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return None
                raise DlqError(f"{topic}: {error.str()}")
            # Compaction or a transaction marker may have left a gap at `offset`.
            return raw_record(message) if message.offset() == offset else None
        raise DlqError(f"{topic} {partition}:{offset}: no answer in {_TIMEOUT_S:.0f} s")
    finally:
        consumer.close()


def transactional_id(dead_letter_topic: str) -> str:
    """One id per dead-letter topic, so two re-drives of it can never run at once."""
    return f"sentinel-dlq-redrive.{dead_letter_topic}"


class RedriveProducer:
    """A transactional producer (idempotent, acks=all) owning the re-drives of one topic."""

    def __init__(self, kafka: KafkaConnection, dead_letter_topic: str) -> None:
        self._producer = kafka_edge.producer(
            kafka,
            # librdkafka's partitioner, as the marks have always been placed.
            **kafka_edge.LIBRDKAFKA_PARTITIONER,
            **{
                "transactional.id": transactional_id(dead_letter_topic),
                "linger.ms": 5,
                "transaction.timeout.ms": 60_000,
            },
        )

    def fence(self) -> None:
        """Take the topic over: an earlier holder's open transaction is aborted, or finished.

        Only after this returns do the marks read from the broker tell the whole truth.
        """
        self._call(self._producer.init_transactions, _TIMEOUT_S)

    def commit(self, records: Sequence[Outbound]) -> None:
        """Produce ``records`` in one transaction: all of them become visible, or none."""
        self._call(self._producer.begin_transaction)
        try:
            # commit_transaction waits for every delivery (a flush here would meet a fenced
            # producer's fatal error outside _call).
            failures = kafka_edge.send_all(self._producer, records)
            self._call(self._producer.commit_transaction, _TIMEOUT_S)
        except RedriveFailed:
            self._abort()
            raise
        except DeliveryFailed as exc:
            self._abort()
            raise RedriveFailed(f"re-drive aborted: {exc}") from exc
        if failures:  # not reached in practice: a failed delivery fails the commit
            raise RedriveFailed(f"re-drive aborted: {[e.str() for e in failures[:3]]}")

    def _abort(self) -> None:
        try:
            self._producer.abort_transaction(_TIMEOUT_S)
        except KafkaException:
            pass  # fenced or fatal: the broker aborts the transaction on its own

    def _call(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except KafkaException as exc:
            if _fenced(exc):
                raise Fenced(_FENCED_MESSAGE) from exc
            raise RedriveFailed(f"re-drive aborted: {exc}") from exc

    def close(self) -> None:
        """Flush what is left. A producer fenced meanwhile has nothing left to lose: its
        committed transactions stand and the broker aborts an open one, so the fence (which
        ``commit`` already reported, or which came after the last commit) is not raised
        again here, where it would hide the error a run is stopping with."""
        try:
            self._producer.flush(_TIMEOUT_S)
        except KafkaException as exc:
            if not _fenced(exc):
                raise RedriveFailed(f"re-drive could not flush: {exc}") from exc


def _fenced(exc: KafkaException) -> bool:
    """Whether librdkafka refused because a newer instance took the transactional id."""
    error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    return error is not None and error.code() in _FENCED_CODES


_FENCED_MESSAGE = "another `sentinel dlq redrive` of this topic took over; this one stopped"
_FENCED_CODES = frozenset(
    {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}
)
