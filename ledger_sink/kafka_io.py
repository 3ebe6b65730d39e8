"""The Kafka edge of the sink (confluent-kafka): a batch consumer and a durable producer.

Offsets are committed by hand, after the database commit, never automatically, and at
most once per commit interval (``BatchConsumer``); the producer returns only once the broker
has acknowledged every record it was given.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from ledger_sink import metrics
from ledger_sink.errors import KafkaUnavailable
from schemas import kafka_edge
from schemas.codec import encode_dead_letter
from schemas.connections import KafkaConnection
from schemas.consuming import ready_messages
from schemas.kafka_edge import ClientErrors, DeliveryFailed, Outbound, RawRecord, raw_record
from schemas.records import DeadLetter

log = structlog.get_logger("ledger_sink.kafka")


def _record_lag(stats_json: str) -> None:
    """Consumer lag per partition from librdkafka's statistics (-1 while unknown)."""
    stats = json.loads(stats_json)
    for topic in stats.get("topics", {}).values():
        for partition, values in topic.get("partitions", {}).items():
            lag = values.get("consumer_lag", -1)
            if partition != "-1" and lag >= 0:
                metrics.SINK_LAG.labels(partition).set(lag)


def group_consumer(
    kafka: KafkaConnection,
    group: str,
    errors: ClientErrors,
    instance_id: str | None = None,
    session_timeout_ms: int = 45_000,
    fetch_gather_ms: int = 0,
    **extra: Any,
) -> Consumer:
    """A consumer that joins ``group`` (the sink's and the dispatcher's), reading from the
    earliest offset when the group has none, committing by hand; its client errors go to
    ``errors``, which its owner asks after each poll (``raise_if_refused``): a refused
    service stops at once with the reason instead of waiting for records forever.

    ``fetch_gather_ms``: how long the broker may hold each fetch unless 64 KiB wait (at a
    steady rate a fetch every that long, not one for every record or two, each written,
    answered and parsed); 0, librdkafka's own: an answer at the first record."""
    if instance_id:
        extra["group.instance.id"] = instance_id
    if fetch_gather_ms:
        extra |= {"fetch.wait.max.ms": fetch_gather_ms, "fetch.min.bytes": 65_536}
    return kafka_edge.consumer(
        kafka,
        group,
        **{
            "session.timeout.ms": session_timeout_ms,
            "auto.offset.reset": "earliest",
            # Decisions may be produced in Kafka transactions: never read an aborted one.
            **kafka_edge.READ_COMMITTED,
            "error_cb": errors,
            **extra,
        },
    )


class BatchConsumer:
    """A subscribed consumer that hands out batches and commits the offsets of the batches
    it is told are done, at most once per ``commit_interval_s``.

    A synchronous offset commit is a round trip in which the broker's group coordinator
    appends to ``__consumer_offsets`` and waits for it to be stored: ~0.2 ms of the local
    broker's CPU and ~0.1 ms of this process's each (``bench/bench_commits.py``), and the
    sink at a steady rate writes tens of batches a second. So the done offsets wait for the
    first of: a batch done once the interval has passed since the last commit, an idle poll
    after it, the partitions revoked in a rebalance (their next owner starts where this one
    stopped), and ``close``.
    What a crash leaves uncommitted (up to an interval of batches) is delivered again, which
    the database's idempotency makes harmless; its dead letters are sent again.
    ``commit_interval_s`` 0 commits every batch as it is done.
    """

    def __init__(
        self,
        kafka: KafkaConnection,
        group: str,
        topic: str,
        stats_interval_ms: int = 0,
        on_stats: Callable[[str], None] = _record_lag,
        gather_s: float = 0.0,
        commit_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        **membership: Any,
    ) -> None:
        self.gather_s = gather_s  # how long a batch gathers records after its first
        self.commit_interval_s = commit_interval_s
        self._clock = clock
        self._committed_at = clock()
        # Done, not committed yet: the next offset of each (topic, partition).
        self._done: dict[tuple[str, int], int] = {}
        extra: dict[str, Any] = {}
        if stats_interval_ms:
            extra = {"statistics.interval.ms": stats_interval_ms, "stats_cb": on_stats}
        self._errors = ClientErrors(kafka)
        self._consumer = group_consumer(kafka, group, self._errors, **membership, **extra)
        self._consumer.subscribe([topic], on_revoke=self._on_revoke, on_lost=self._on_lost)

    def poll(self, max_records: int, timeout_s: float) -> list[RawRecord]:
        """A batch: up to ``max_records``, from the first record (waited for up to
        ``timeout_s``) to what else arrived within ``gather_s`` of it (``consume_ready``);
        raises ``KafkaRefused`` once the brokers refused this consumer's credentials. An
        idle poll commits what is done once the interval has passed."""
        records = consume_ready(self._consumer, max_records, timeout_s, self.gather_s)
        self._errors.raise_if_refused()
        if not records and self._due():
            self._commit_quietly()
        return records

    def commit(self, records: Sequence[RawRecord]) -> None:
        """``records`` are done: their offsets are committed now if the interval has passed
        since the last commit, else with a later batch's (raises ``KafkaUnavailable`` when a
        commit fails; the offsets stay to be committed)."""
        done = self._done
        for record in records:  # what to commit: one past each partition's highest offset
            place = (record.topic, record.partition)
            done[place] = max(done.get(place, 0), record.offset + 1)
        if self._due():
            self._commit_done()

    def close(self) -> None:
        self._commit_quietly()
        self._consumer.close()

    def _due(self) -> bool:
        return bool(self._done) and self._clock() - self._committed_at >= self.commit_interval_s

    def _commit_done(self) -> None:
        if not self._done:
            return  # librdkafka answers an empty commit with _NO_OFFSET
        offsets = [
            TopicPartition(topic, part, offset) for (topic, part), offset in self._done.items()
        ]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise KafkaUnavailable(f"offset commit failed: {exc}") from exc
        self._done.clear()
        self._committed_at = self._clock()

    def _commit_quietly(self) -> None:
        try:
            self._commit_done()
        except KafkaUnavailable as exc:
            # Nothing is lost: the records are in the database and will be delivered again.
            log.warning("offset commit failed; records will be delivered again", error=str(exc))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # On this thread, inside consume(): what is done is committed before the partitions
        # go, so their next owner does not deliver it again.
        self._commit_quietly()
        self._forget(partitions)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Gone without a rebalance (this member was given up): a commit would be refused.
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._done.pop((tp.topic, tp.partition), None)


class DurableProducer:
    """An idempotent, acks=all producer whose `send` returns once every record is stored."""

    def __init__(self, kafka: KafkaConnection, topic: str, timeout_s: float = 30.0) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = kafka_edge.producer(
            kafka,
            # librdkafka's partitioner, as these topics (dead letters, webhooks, labels,
            # heads) have always been written.
            **kafka_edge.LIBRDKAFKA_PARTITIONER,
            **{"linger.ms": 5, "message.timeout.ms": int(timeout_s * 1000)},
        )

    def send(self, letters: Sequence[DeadLetter]) -> None:
        self.produce_all([(letter.key, encode_dead_letter(letter)) for letter in letters])

    def produce_all(self, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        outbound = (Outbound(self.topic, key, value) for key, value in records)
        try:
            kafka_edge.deliver_all(self._producer, outbound, self.timeout_s)
        except DeliveryFailed as exc:
            raise KafkaUnavailable(f"{self.topic}: {exc}") from exc

    def close(self) -> None:
        self._producer.flush(self.timeout_s)


def consume_records(consumer: Consumer, max_records: int, timeout_s: float) -> list[RawRecord]:
    """One poll's records: `max_records`, or what came within `timeout_s` (a batch for the
    sink's one transaction); a fatal client error raises, a transient one is logged."""
    return _records(consumer.consume(num_messages=max_records, timeout=timeout_s))


def consume_ready(
    consumer: Consumer, max_records: int, timeout_s: float, gather_s: float = 0.0
) -> list[RawRecord]:
    """Records as soon as there are any, up to `max_records`, with what else arrives within
    `gather_s` of the first (``schemas.consuming.ready_messages``)."""
    return _records(ready_messages(consumer, max_records, timeout_s, gather_s))


def _records(messages: Sequence[Message]) -> list[RawRecord]:
    """The records among `messages`; a fatal client error raises, a transient one is logged
    and skipped."""
    records = []
    for message in messages:
        error = message.error()
        if error is None:
            records.append(raw_record(message))
        elif error.fatal():
            raise KafkaException(error)
        else:
            log.warning("consumer error", error=error.str())
    return records


def read_to_end(kafka: KafkaConnection, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every value on `topic` up to each partition's end as it was on entry, in offset order
    per partition; no group offsets are committed. Raises KafkaUnavailable."""
    consumer = kafka_edge.consumer(kafka, f"{kafka.topic_prefix}ledger-verify")
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise KafkaUnavailable(f"topic {topic} cannot be read: {metadata and metadata.error}")
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
            for p in metadata.partitions
        }
        return _read_until(consumer, topic, ends, timeout_s)
    except KafkaException as exc:
        raise KafkaUnavailable(f"reading {topic} failed: {exc}") from exc
    finally:
        consumer.close()


def _read_until(
    consumer: Consumer, topic: str, ends: dict[int, int], timeout_s: float
) -> list[bytes]:
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    reached = dict.fromkeys(ends, 0)
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while any(reached[p] < ends[p] for p in ends):
        if time.monotonic() > deadline:
            raise KafkaUnavailable(f"{topic} was not read to its end within {timeout_s} s")
        for record in consume_records(consumer, 500, 0.2):
            if record.offset < ends[record.partition]:
                values.append(record.value or b"")
            reached[record.partition] = max(reached[record.partition], record.offset + 1)
    return values
