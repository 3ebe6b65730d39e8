"""The micro-batch pacer: no wait when idle or behind, up to the cap at a steady rate."""

from __future__ import annotations

import pytest

from stream_agents.pacing import BatchPacer


def paced(rate: float, batches: int, size: int = 10, cap_s: float = 0.02) -> BatchPacer:
    """A pacer that saw ``batches`` batches of ``size`` arriving at ``rate`` a second."""
    pacer = BatchPacer(cap_s=cap_s, target=64, smoothing=0.5)
    for n in range(batches):
        pacer.started(size, n * size / rate)
    return pacer


def test_no_wait_before_any_rate_is_known() -> None:
    pacer = BatchPacer(cap_s=0.02, target=64)
    assert pacer.pause(0.0) == 0.0
    pacer.started(1, 10.0)  # the first batch says nothing about the rate
    assert pacer.rate == 0.0
    assert pacer.pause(0.0) == 0.0


def test_idle_traffic_is_decided_without_waiting() -> None:
    # 50 a second: a 20 ms wait would gather one more transaction, not worth its latency.
    pacer = paced(rate=50.0, batches=30, size=1)
    assert pacer.rate == pytest.approx(50.0)
    assert pacer.pause(0.001) == 0.0


def test_a_steady_rate_waits_up_to_the_cap_less_the_time_spent_deciding() -> None:
    pacer = paced(rate=500.0, batches=30)
    assert pacer.rate == pytest.approx(500.0)
    # 64 transactions take 128 ms at 500/s: capped at 20 ms, of which 6 ms went deciding.
    assert pacer.pause(0.006) == pytest.approx(0.014)
    assert pacer.pause(0.030) == 0.0  # deciding took longer than the cap already


def test_a_fast_rate_waits_only_for_a_target_batch() -> None:
    pacer = paced(rate=6_400.0, batches=30, size=64)
    assert pacer.pause(0.0) == pytest.approx(0.01)  # 64 arrive in 10 ms


def test_a_backlog_is_never_held_back() -> None:
    pacer = BatchPacer(cap_s=0.02, target=64)
    for n in range(20):
        pacer.started(500, n * 0.05)  # full batches back to back: 10,000 a second
    assert pacer.pause(0.05) == 0.0


def test_the_rate_follows_traffic_down_again() -> None:
    pacer = paced(rate=2_000.0, batches=20)
    at = 20 * 10 / 2_000.0
    for n in range(1, 30):
        pacer.started(1, at + n * 0.1)  # then one every 100 ms
    assert pacer.rate == pytest.approx(10.0, rel=0.01)
    assert pacer.pause(0.0) == 0.0


def test_a_zero_cap_never_waits() -> None:
    pacer = paced(rate=5_000.0, batches=10, cap_s=0.0)
    assert pacer.pause(0.0) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cap_s": -0.001, "target": 64},
        {"cap_s": 0.02, "target": 0},
        {"cap_s": 0.02, "target": 64, "min_gain": -1.0},
        {"cap_s": 0.02, "target": 64, "smoothing": 0.0},
        {"cap_s": 0.02, "target": 64, "smoothing": 1.5},
    ],
)
def test_invalid_pacing_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BatchPacer(**kwargs)  # type: ignore[arg-type]
