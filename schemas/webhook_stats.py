"""The contract of ``webhook_delivery_stats`` between its writer (the webhook dispatcher) and
its readers (the console): failure classes, the latency histogram's buckets, quantiles."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Final

# Upper bounds (inclusive, milliseconds) of the latency buckets; one more bucket after the
# last bound counts everything slower (a request times out at 10 s by default).
LATENCY_BOUNDS_MS: Final = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKETS: Final = len(LATENCY_BOUNDS_MS) + 1

# How an attempt that was not a 2xx failed; each is a column ``failed_<class>``. A missing
# answer is not told apart further (refused, reset, timed out): see delivery.NO_RESPONSE.
FAILURE_CLASSES: Final = ("4xx", "5xx", "other", "no_response")


def failure_class(status: int | None) -> str:
    """The class of an attempt that failed with HTTP ``status`` (None: no HTTP answer)."""
    if status is None:
        return "no_response"
    if 400 <= status < 500:
        return "4xx"
    if 500 <= status < 600:
        return "5xx"
    return "other"


def bucket(ms: float) -> int:
    """The index of the bucket ``ms`` falls in."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


def quantile(buckets: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0 < q <= 1) of a histogram, interpolated linearly inside its
    bucket (the first bucket starts at 0); the open last bucket answers its lower bound.
    None for an empty histogram."""
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} is not in (0, 1]")
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            low = 0.0 if index == 0 else float(LATENCY_BOUNDS_MS[index - 1])
            if index >= len(LATENCY_BOUNDS_MS):
                return low
            high = float(LATENCY_BOUNDS_MS[index])
            return low + (high - low) * (rank - seen) / count
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])


def merged(histograms: Sequence[Sequence[int]]) -> list[int]:
    """Bucket-wise sums; a shorter histogram (fewer buckets) adds zeros."""
    total = [0] * BUCKETS
    for histogram in histograms:
        for index, count in enumerate(histogram[:BUCKETS]):
            total[index] += count
    return total
