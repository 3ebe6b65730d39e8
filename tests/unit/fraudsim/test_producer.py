"""The producer's pacing, against a fake producer and a fake clock."""

from __future__ import annotations

from typing import Any

from fraudsim.simulate.pacing import TokenBucket
from fraudsim.simulate.produce import Limits, Record, run
from tests.support.clocks import ManualClock


class Clock(ManualClock):
    """The tests' manual clock, which the producer's sleeps also move (by at least 1 ms, so
    a zero sleep cannot spin)."""

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)


class FakeProducer:
    """Records what was produced and when; refuses once (a full queue) to test the retry."""

    def __init__(self, clock: Clock, full_once: bool = False) -> None:
        self.clock, self.full_once = clock, full_once
        self.sent: list[tuple[float, str, bytes, bytes]] = []
        self.callbacks: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any = None) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("queue full")
        self.sent.append((self.clock(), topic, key, value))
        self.callbacks.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        self.clock.now += timeout
        served, self.callbacks = self.callbacks, []
        for callback in served:
            callback(None, None)
        return len(served)

    def flush(self, timeout: float = 0) -> int:
        return self.poll(0)


def records(n: int) -> list[Record]:
    return [("tx", f"k{i}".encode(), b"v", False) for i in range(n)]


def test_a_token_bucket_grants_the_rate_and_a_bounded_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(100, 10, clock)
    assert bucket.take(50) == 10  # the burst, no more
    assert bucket.take(5) == 0 and bucket.wait_s() > 0
    clock.now = 1.0
    assert bucket.take(500) == 10  # a second's 100 tokens, capped at the burst


def test_sending_keeps_the_rate_and_stops_at_the_count() -> None:
    clock = Clock()
    producer = FakeProducer(clock, full_once=True)
    tally = run(
        producer,
        iter(records(5_000)),
        Limits(rate=500, max_events=1_000),
        clock=clock,
        sleep=clock.sleep,
    )
    assert tally.sent == len(producer.sent) == tally.delivered == 1_000
    elapsed = producer.sent[-1][0] - producer.sent[0][0]
    assert 1.7 < elapsed < 2.1  # 1,000 at 500/s, the first burst of 50 sent at once
    per_second = [sum(1 for t, *_ in producer.sent if s <= t < s + 1) for s in (0, 1)]
    assert all(abs(n - 500) <= 60 for n in per_second)


def test_sending_stops_at_the_duration() -> None:
    clock = Clock()
    producer = FakeProducer(clock)
    tally = run(
        producer,
        iter(records(10_000)),
        Limits(rate=1_000, duration_s=3.0),
        clock=clock,
        sleep=clock.sleep,
    )
    assert 2_900 <= tally.sent <= 3_200


def test_sending_stops_when_told() -> None:
    clock = Clock()
    producer = FakeProducer(clock)
    tally = run(
        producer,
        iter(records(10_000)),
        Limits(rate=1_000),
        clock=clock,
        sleep=clock.sleep,
        stopped=lambda: clock.now >= 1.0,
    )
    assert 900 <= tally.sent <= 1_200 and tally.delivered == tally.sent
