"""Prometheus metrics of the stream agents."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECIDED = Counter("sentinel_agent_decisions_total", "transactions decided")
DEAD_LETTERED = Counter(
    "sentinel_agent_dead_letters_total", "records sent to the dead-letter topic"
)
BATCH_SIZE = Histogram(
    "sentinel_agent_batch_size",
    "transactions per micro-batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
