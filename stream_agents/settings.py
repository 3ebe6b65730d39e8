"""Settings of the stream agents (``SENTINEL_AGENTS_*``), built once at the entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from decision_core.collector import YOUNG_THRESHOLD
from decision_core.settings import DecisionSettings
from schemas.connections import KafkaConnection, RedisConnection
from schemas.transaction_claims import DEFAULT_WINDOW_S


class AgentSettings(DecisionSettings):
    """The faust worker and its micro-batches; the model registry, the decision thresholds
    and the breaker are ``DecisionSettings``' (the same variables, shared with replay)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_AGENTS_",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        use_attribute_docstrings=True,
    )

    app_id: str = "sentinel-agents"
    """The faust app's id: the agents' consumer group and their tables' changelog names."""
    batch_max: int = Field(default=500, ge=1)
    """Micro-batch: at most this many transactions."""
    # 10 ms rather than 3 or 5: less CPU per transaction for a few ms of latency
    # (docs/performance.md, "Shorter waits, measured again").
    batch_wait_ms: float = Field(default=10.0, ge=0)
    """How long a micro-batch waits to fill once the one before is done (a transaction its
    caller waits for, `/v1/authorize`'s, closes it at once; 0: every transaction does, a
    batch holding what waited; docs/adr/0012-awaited-transactions-close-their-batch.md)."""
    # At steady rates aiokafka otherwise writes and parses a fetch, in Python, for every
    # record or two (stream_agents.faust_edge, 5.).
    fetch_wait_ms: int = Field(default=10, ge=0)
    """How long the broker may hold a worker's fetch to gather data
    (docs/performance.md#fetches-the-broker-gathers)."""
    fetch_min_bytes: int = Field(default=65_536, ge=1)
    """How much data the broker gathers for a worker's fetch before answering it early."""
    store: str = "rocksdb://"
    """The feature table's store. `rocksdb://` keeps it on disk and reads only the changelog
    it has not persisted at a start (a restarted worker decides again in ~2 s, whatever the
    state's size); `memory://` re-reads the whole changelog at every start (~7 s for
    100,000 accounts, about a minute for a million; docs/agents.md#table-store)."""
    data_dir: Path = Path(".stack/agents")
    """The folder below which each worker claims one of its own (stream_agents.datadir): its
    instance id's, else the first free `worker-N`."""
    # Unset: none with memory://, whose recovery re-reads a partition that
    # comes back from offset 0 anyway (it persists no offsets), so following it only costs
    # CPU; two with rocksdb://, whose files it keeps current. Two, not one: faust's
    # assignor keeps the survivors balanced before it prefers standbys, so with one
    # replica a dead worker's partitions can go to a survivor that never followed them,
    # which then re-reads them whole while all its partitions wait (a million accounts:
    # 102 s instead of 7). faust caps it at workers - 1 (docs/agents.md, "Failover").
    standby_replicas: int | None = Field(default=None, ge=0)
    """Workers that follow each feature-table partition besides its owner. Unset: 0 with
    `memory://`, 2 with `rocksdb://`; faust caps it at workers - 1
    (docs/agents.md#table-store)."""
    table_partitions: int = 12
    """Partitions of the tables' changelog topics: must equal the transactions topic's."""
    changelog_replicas: int = 3
    """Replicas of the changelog topics faust creates; capped at the cluster size on start."""
    models_timeout_s: float = 120.0
    """How long a starting worker waits to load the announced champion and challenger."""
    reference_timeout_s: float = 60.0
    """How long a starting worker waits to load every rule, list and profile published so
    far."""
    metrics_port: int | None = None
    """Port of a worker's Prometheus endpoint; unset serves no metrics."""
    metrics_host: str = "127.0.0.1"
    """Address a worker's Prometheus endpoint listens on (`0.0.0.0` where a kubelet probe or
    a scraper in another network namespace reads it, e.g. in a Kubernetes pod)."""
    commit_interval_s: float = 1.0
    """How often faust commits offsets."""
    instance_id: str | None = None
    """Static group membership (group.instance.id), unique per worker and kept across its
    restarts: a worker restarted under the same id gets its partitions back without a
    rebalance (docs/adr/0004-static-membership.md). Unset: dynamic membership."""
    # 6 s is the broker's default floor (group.min.session.timeout.ms).
    session_timeout_s: float = Field(default=6.0, gt=0)
    """How long the group waits for a worker it no longer hears from before giving its
    partitions to the others (also how long a static member may take to restart without its
    partitions moving)."""
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    """Heartbeats from faust's consumer, on the worker's event loop (ADR 0011): a third of
    the session timeout or less."""
    stall_s: float = Field(default=5.0, gt=0)
    """How long a partition may sit with records waiting past its checkpoint before it is
    sought back to it: records faust dropped at a partition's end, where no later record
    reveals them (docs/agents.md#one-checkpoint-per-partition)."""
    seek_quiet_s: float = Field(default=1.0, gt=0)
    """Between two seeks of the same partition (what faust delivered before a seek has
    arrived by then), and the period of the checkpoint's timer."""
    gc_freeze: bool = True
    """Once everything long-lived is loaded, gc.freeze() it: full collections stop walking it
    (decision_core.collector; replay's workers do the same)."""
    gc_young_threshold: int = Field(default=YOUNG_THRESHOLD, ge=1)
    """Young collections every this many allocations instead of CPython's 700."""
    # Deterministic decision ids, the sinks' uniqueness and marks that never precede their
    # decisions make at-least-once's effects exactly once. faust's "exactly_once" was
    # measured (8-20x the p50, a quarter less throughput, a crash on scale-out) and removed.
    processing_guarantee: Literal["at_least_once"] = "at_least_once"
    """The only value: `exactly_once` was removed and naming it is refused, not ignored
    (docs/adr/0002-at-least-once-vs-exactly-once.md)."""

    # The API's window is read from its variable unless the agents' own is set, so one
    # setting keeps both equal.
    transaction_id_window_s: int = Field(
        default=DEFAULT_WINDOW_S,
        ge=0,
        validation_alias=AliasChoices(
            "SENTINEL_AGENTS_TRANSACTION_ID_WINDOW_S", "SENTINEL_API_TRANSACTION_ID_WINDOW_S"
        ),
    )
    """How long the agents' claims of transaction ids in the API's Redis registry last; 0
    turns them off (a reused id of another account produced straight to Kafka is then caught
    by the sink only, after its decision went out; stream_agents.txid_claims,
    docs/agents.md#reused-transaction-ids-across-accounts)."""
    transaction_id_timeout_s: float = Field(default=0.25, gt=0)
    """How long a micro-batch waits for its claims; past it, or on any Redis error, it is
    decided unchecked and Redis is left alone for a few seconds."""

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    redis: RedisConnection = Field(default_factory=RedisConnection)

    @property
    def table_standby_replicas(self) -> int:
        """The standby replicas faust keeps of the feature table (``standby_replicas``)."""
        if self.standby_replicas is not None:
            return self.standby_replicas
        return 0 if self.store == "memory://" else 2

    @model_validator(mode="after")
    def _heartbeats_within_session(self) -> Self:
        # The coordinator must hear a few heartbeats per session, or one late one evicts.
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError("heartbeat_interval_s must be at most a third of session_timeout_s")
        return self
