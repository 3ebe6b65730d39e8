"""The demo's traffic to Kafka: records sent at a steady rate until a count or a time is reached.

What is sent comes from ``fraudsim.simulate.live`` (simulated days, stamped as they are
sent); this module paces it with a token bucket and counts the broker's acknowledgements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from fraudsim.simulate.pacing import TokenBucket
from schemas.connections import KafkaConnection


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
    from schemas.kafka_edge import producer

    return producer(kafka, **{"compression.type": "lz4", "linger.ms": 5})


# (topic, key, value, is a label)
Record = tuple[str, bytes, bytes, bool]


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
    stopped: Callable[[], bool] = lambda: False,
) -> Tally:
    """Send until the records, the count or the time run out, or until ``stopped()``, then
    wait for every acknowledgement."""
    tally = Tally()
    # A tenth of a second's worth: enough to ride over scheduling jitter, never a flood.
    bucket = TokenBucket(limits.rate, max(1.0, limits.rate / 10), clock)
    deadline = None if limits.duration_s is None else clock() + limits.duration_s
    budget = limits.max_events if limits.max_events is not None else float("inf")
    records = iter(records)
    while tally.sent < budget and (deadline is None or clock() < deadline) and not stopped():
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
