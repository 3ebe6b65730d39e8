"""Prometheus metrics of the stream agents."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECIDED = Counter("sentinel_agent_decisions_total", "transactions decided")
DEAD_LETTERED = Counter(
    "sentinel_agent_dead_letters_total", "records sent to the dead-letter topic"
)
BATCH_SIZE = Histogram(
    "sentinel_agent_batch_size",
    "transactions per micro-batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
RULES_LOADED = Gauge("sentinel_agent_rules_loaded", "rules in the live rule set")
RULES_REJECTED = Counter(
    "sentinel_agent_rules_rejected_total", "rule versions that did not compile"
)
REFERENCE_RECORDS = Counter(
    "sentinel_agent_reference_records_total", "reference records applied", ["topic"]
)
RULE_FAILURES = Counter(
    "sentinel_agent_rule_failures_total", "rule evaluations that failed at run time", ["rule_id"]
)
BREAKER_DEGRADED = Counter(
    "sentinel_agent_breaker_degraded_total",
    "declines degraded to review by the breaker",
    ["rule_id"],
)
MODEL_SWAPS = Counter("sentinel_agent_model_swaps_total", "model announcements made live", ["role"])
MODEL_LOAD_FAILURES = Counter(
    "sentinel_agent_model_load_failures_total",
    "announced models that could not be loaded (the previous one stays)",
    ["role"],
)
CHALLENGER_FAILURES = Counter(
    "sentinel_agent_challenger_failures_total", "micro-batches the challenger could not score"
)
