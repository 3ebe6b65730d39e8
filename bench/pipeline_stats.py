"""The arithmetic of bench/bench_pipeline.py: percentiles, whether a step kept up, and the
highest sustained rate within the latency budget.

Pure functions over plain numbers and the step dictionaries the benchmark writes to
bench/results/pipeline.json, so tests/unit checks them without any service.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# A step keeps up when it delivered at least this share of the offered rate ...
MIN_DELIVERED_SHARE = 0.95
# ... and no stage's backlog grew by more than this many seconds of offered traffic (or
# MIN_BACKLOG_SLACK records, whichever is more) between the start and the end of the
# measured window: in-flight records, batches and commit intervals make backlogs jitter.
BACKLOG_SLACK_S = 0.5
MIN_BACKLOG_SLACK = 500


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of an ascending sequence.

    Nearest rank, not interpolation: every figure reported is a latency that was measured.
    """
    if not ordered:
        raise ValueError("no values")
    if not 0 < q <= 1:
        raise ValueError(f"q must lie in (0, 1], got {q}")
    rank = math.ceil(q * len(ordered))
    return float(ordered[max(0, rank - 1)])


def summary(values: Iterable[float]) -> dict[str, float | int | None]:
    """p50, p99, p99.9 and max of ``values`` (milliseconds), and how many there were."""
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None, "samples": 0}
    return {
        "p50_ms": percentile(ordered, 0.5),
        "p99_ms": percentile(ordered, 0.99),
        "p999_ms": percentile(ordered, 0.999),
        "max_ms": float(ordered[-1]),
        "samples": len(ordered),
    }


def backlog_slack(offered_per_s: float) -> float:
    return max(float(MIN_BACKLOG_SLACK), offered_per_s * BACKLOG_SLACK_S)


def keeps_up(step: Mapping[str, Any]) -> bool:
    """The step delivered what was offered and no stage fell further behind.

    ``step`` holds ``offered_per_s``, ``achieved_per_s`` and ``backlog``: stage -> {"start":
    records, "end": records} (None when it could not be read, which counts as not keeping up).
    """
    offered = float(step["offered_per_s"])
    if float(step["achieved_per_s"]) < MIN_DELIVERED_SHARE * offered:
        return False
    slack = backlog_slack(offered)
    for stage in step["backlog"].values():
        if stage["start"] is None or stage["end"] is None:
            return False
        if stage["end"] - stage["start"] > slack:
            return False
    return True


def within_budget(step: Mapping[str, Any], budget_ms: float) -> bool:
    """Sustained, and the p99 ingest -> decision latency is under ``budget_ms``."""
    p99 = step["latency_ms"]["ingest_to_decision"]["p99_ms"]
    return keeps_up(step) and p99 is not None and p99 < budget_ms


def sustained_rate(
    steps: Sequence[Mapping[str, Any]], budget_ms: float
) -> Mapping[str, Any] | None:
    """The step with the highest offered rate that kept up within the budget, or None.

    Only steps below the first one that failed count: a pass at a higher rate after a
    failure is noise (a quieter moment on a shared machine), not capacity.
    """
    passed = rising_until(steps, lambda step: within_budget(step, budget_ms))
    return passed[-1] if passed else None


def rising_until(
    steps: Sequence[Mapping[str, Any]], passes: Callable[[Mapping[str, Any]], bool]
) -> list[Mapping[str, Any]]:
    """The steps in rising order of offered rate, up to the first that does not pass."""
    out = []
    for step in sorted(steps, key=lambda s: float(s["offered_per_s"])):
        if not passes(step):
            break
        out.append(step)
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def per_transaction(
    resources: Mapping[str, Mapping[str, float]],
    decided_per_s: float,
    http_per_s: float,
    cores: int,
) -> dict[str, float | None]:
    """CPU microseconds per transaction of each measured process, from a step's
    ``resources`` (name -> {"cpu_percent": % of one core}) and its decided rate.

    The API's figure is per transaction it received over HTTP (it sees no other); the
    machine's is its busy share of all cores (``cpu_percent`` of the machine) per decided
    transaction. None where the rate is zero.
    """
    out: dict[str, float | None] = {}
    for name, use in resources.items():
        rate = http_per_s if name == "api" else decided_per_s
        share = float(use["cpu_percent"]) / 100
        if name == "machine":
            share *= cores
        out[name] = round(share / rate * 1e6, 1) if rate > 0 else None
    return out


def bytes_per_transaction(
    before: Mapping[str, int], after: Mapping[str, int], decided: int
) -> dict[str, float | None]:
    """Bytes appended to each topic's log (and in all) per decided transaction, between two
    readings of the logs' sizes (topic -> bytes). A topic compacted in between reads as
    zero, never negative."""
    grown = {topic: max(0, after.get(topic, 0) - before.get(topic, 0)) for topic in after}
    grown["all topics"] = sum(grown.values())
    return {
        topic: round(size / decided, 1) if decided > 0 else None
        for topic, size in sorted(grown.items())
    }


def batches_between(
    before: tuple[float, float], after: tuple[float, float]
) -> dict[str, float | None]:
    """The agents' micro-batches in a window, from two readings of their batch-size
    histograms (batches so far, transactions in them): how many, and their mean size
    (None when there was none)."""
    count = after[0] - before[0]
    transactions = after[1] - before[1]
    return {
        "count": count,
        "transactions": transactions,
        "mean_size": round(transactions / count, 2) if count > 0 else None,
    }
