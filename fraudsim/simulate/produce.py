"""The demo's traffic: simulated transactions to Kafka at a steady rate, fraud labels later.

Transactions go to ``transactions`` in canonical order, keyed by account id; each fraud
label goes to ``labels`` (keyed by account id too) once the transactions sent have reached
its ``labelled_at`` in simulated time, so labels trail their frauds as they would in life.
The run is bounded by a count and/or a duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from fraudsim.simulate.pacing import TokenBucket
from fraudsim.tables import TransactionColumns
from schemas.codec import encode_label, encode_transaction
from schemas.connections import KafkaConnection
from schemas.records import Label
from schemas.topics import LABELS, TRANSACTIONS


class Sink(Protocol):
    """What the loop needs of a confluent-kafka Producer."""

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any = ...) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...


@dataclass
class Tally:
    sent: int = 0
    labels: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def on_delivery(self, error: Any, _message: Any) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(str(error))


def kafka_producer(kafka: KafkaConnection) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": kafka.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 5,
            # Java's murmur2, as the agents (aiokafka) and the ingest API use: an account
            # lands on the same partition whoever produced its transactions.
            "partitioner": "murmur2_random",
        }
    )


# (topic, key, value, is a label)
Record = tuple[str, bytes, bytes, bool]


def outgoing(
    columns: TransactionColumns, labels: list[Label], prefix: str = ""
) -> Iterator[Record]:
    """Every transaction in order, each label once the transactions reach its ``labelled_at``."""
    pending = sorted(labels, key=lambda label: label.labelled_at)
    next_label = 0
    for i in range(len(columns)):
        tx = columns.record(i)
        while next_label < len(pending) and pending[next_label].labelled_at <= tx.timestamp:
            label = pending[next_label]
            yield prefix + LABELS.name, label.account_id.encode(), encode_label(label), True
            next_label += 1
        yield prefix + TRANSACTIONS.name, tx.account_id.encode(), encode_transaction(tx), False


@dataclass(frozen=True, slots=True)
class Limits:
    rate: float  # transactions a second
    max_events: int | None = None
    duration_s: float | None = None


def run(
    sink: Sink,
    records: Iterator[Record],
    limits: Limits,
    on_progress: Callable[[Tally], None] = lambda _tally: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Tally:
    """Send until the records, the count or the time run out, then wait for every ack."""
    tally = Tally()
    # A tenth of a second's worth: enough to ride over scheduling jitter, never a flood.
    bucket = TokenBucket(limits.rate, max(1.0, limits.rate / 10), clock)
    deadline = None if limits.duration_s is None else clock() + limits.duration_s
    budget = limits.max_events if limits.max_events is not None else float("inf")
    records = iter(records)
    while tally.sent < budget and (deadline is None or clock() < deadline):
        granted = bucket.take(int(min(budget - tally.sent, 1_000)))
        if not granted:
            sink.poll(0)
            sleep(min(bucket.wait_s(), 0.05))
            continue
        if not _send(sink, records, granted, tally):
            break
        sink.poll(0)
        on_progress(tally)
    sink.flush(60)
    on_progress(tally)
    return tally


def _send(sink: Sink, records: Iterator[Record], granted: int, tally: Tally) -> bool:
    """Send ``granted`` transactions (and the labels due before them); False when done."""
    while granted:
        record = next(records, None)
        if record is None:
            return False
        topic, key, value, is_label = record
        while True:
            try:
                sink.produce(topic, value, key, on_delivery=tally.on_delivery)
                break
            except BufferError:
                sink.poll(0.1)  # the local queue is full: let deliveries drain it
        if is_label:
            tally.labels += 1
        else:
            tally.sent += 1
            granted -= 1
    return True
