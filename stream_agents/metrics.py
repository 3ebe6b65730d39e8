"""Prometheus metrics of the stream agents."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram

from decision_core.observer import Observer

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
REDELIVERED = Counter(
    "sentinel_agent_redelivered_total",
    "records at or below their partition's applied mark: dropped, decided before",
)
HELD_BACK = Counter(
    "sentinel_agent_held_back_total",
    "records past a hole in what the consumer delivered: left for the seek to bring again",
)
TXID_REUSED = Counter(
    "sentinel_agent_txid_reused_total",
    "transactions dead-lettered because another body claimed their transaction id first "
    "(the registry shared with the API)",
)
TXID_UNCHECKED = Counter(
    "sentinel_agent_txid_unchecked_total",
    "transactions decided without claiming their id (registry unavailable): only the "
    "ledger sink checks them for a reused id",
)
MISPLACED = Counter(
    "sentinel_agent_misplaced_total",
    "transactions not decided on the partition they were read from, by reason: "
    "wrong_partition_forwarded (a copy produced to the partition murmur2 of the key gives), "
    "key_missing, key_not_account, wrong_partition_after_repartition (dead-lettered)",
    ["reason"],
)
SEEKS = Counter("sentinel_agent_seeks_total", "times a partition was sought back to its checkpoint")
STANDBYS_READY = Gauge(
    "sentinel_agent_standbys_ready",
    "1 once the standby partitions this worker follows have caught up with the changelog "
    "(a takeover of them is warm); 0 from each rebalance until then",
)
STANDBY_BEHIND = Gauge(
    "sentinel_agent_standby_behind_records",
    "changelog records the standby partitions are behind the ends seen at the last rebalance",
)
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Where an append->decision latency goes: waiting to be handed to the agent (from the
# record's broker timestamp to the start of its batch), deciding, publishing.
CONSUME_DELAY = Histogram(
    "sentinel_agent_consume_delay_seconds",
    "oldest record of a micro-batch: its append time to the batch's start",
    buckets=_LATENCY_BUCKETS,
)
BATCH_SECONDS = Histogram(
    "sentinel_agent_batch_seconds",
    "time per micro-batch in each stage (claim: the transaction ids' round trip to the "
    "registry; process: decoding, features, model, rules, state; publish: until the broker "
    "acknowledged every output)",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
GC_PAUSES = Histogram(
    "sentinel_agent_gc_pause_seconds",
    "garbage-collector pauses by generation (they stop the event loop)",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)


class MetricsObserver(Observer):
    """The decision code's reports (``decision_core.observer``) as the agents' metrics."""

    def rule_failed(self, rule_id: str) -> None:
        RULE_FAILURES.labels(rule_id).inc()

    def breaker_degraded(self, rule_id: str) -> None:
        BREAKER_DEGRADED.labels(rule_id).inc()

    def rules_loaded(self, count: int) -> None:
        RULES_LOADED.set(count)

    def rule_rejected(self, rule_id: str) -> None:
        RULES_REJECTED.inc()

    def model_swapped(self, role: str) -> None:
        MODEL_SWAPS.labels(role).inc()

    def model_load_failed(self, role: str) -> None:
        MODEL_LOAD_FAILURES.labels(role).inc()

    def challenger_failed(self) -> None:
        CHALLENGER_FAILURES.inc()


def count_reference_record(role: str) -> None:
    """A record of a followed topic applied or skipped (``schemas.follower.TopicFollower``)."""
    REFERENCE_RECORDS.labels(role).inc()


def watch_gc() -> None:
    """Time every collection into ``GC_PAUSES`` (the collector calls back on start/stop)."""
    import gc
    import time

    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            GC_PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - started[0])

    gc.callbacks.append(callback)


Partition = TypeVar("Partition", bound=Hashable)


class StandbyReport:
    """Whether the feature table's standby partitions on this worker are warm: the gauges
    above, and one log line each time they catch up (after a start or a rebalance).

    A worker that takes a partition over from a dead one reads the changelog only past what
    its standby already applied; until the standbys have caught up, a takeover waits for
    them (docs/agents.md, failover). faust's own ``standbys_ready`` flag is not used: it is
    set only when the sum of every partition's distance to its high-water (which goes
    negative once traffic passes the high-water read at the rebalance) is exactly zero
    after a record, which an offset gap can step over for good."""

    def __init__(self) -> None:
        self.ready: bool | None = None

    @staticmethod
    def behind(
        standbys: Iterable[Partition],
        highwaters: Mapping[Partition, int | None],
        offsets: Mapping[Partition, int | None],
    ) -> int | None:
        """Records the standby partitions are behind the high-waters read when faust
        started them; None before it has (no high-water yet for one of them)."""
        total = 0
        for tp in standbys:
            highwater = highwaters.get(tp)
            if highwater is None:
                return None
            applied = offsets.get(tp)
            total += max(highwater - (-1 if applied is None else applied), 0)
        return total

    def observe(self, actives_ready: bool, behind: int | None) -> None:
        """``actives_ready``: faust has recovered the active partitions since the last
        rebalance (it reads the standbys' high-waters just before)."""
        ready = actives_ready and behind == 0
        STANDBYS_READY.set(1 if ready else 0)
        STANDBY_BEHIND.set(behind or 0)
        if ready and not self.ready:
            logging.getLogger("stream_agents").info("standby partitions caught up")
        self.ready = ready
