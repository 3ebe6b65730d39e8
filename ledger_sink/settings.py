"""Settings of the ledger sink (``SENTINEL_SINK_*``), built once at the entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import DEAD_LETTER, DECISIONS


class SinkSettings(BaseSettings):
    """Everything `sentinel sink run` reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_SINK_", frozen=True, extra="ignore")

    # Prefixed with the topic prefix, so parallel environments never share offsets.
    group_id: str = "ledger-sink"
    # Kafka static membership (group.instance.id), one per replica (e.g. the pod name): a
    # restarted sink takes its partitions back at once instead of after the session timeout.
    instance_id: str | None = None
    session_timeout_ms: int = Field(default=45_000, ge=1_000)
    # Decisions per database transaction: larger batches amortise the round trips.
    batch_size: int = Field(default=500, ge=1, le=10_000)
    # librdkafka's consume() waits this long whenever fewer than batch_size decisions are
    # waiting: at demo rates it *is* the sink's latency (0.5 s gave p99 0.7-1.1 s in
    # make bench; 0.05 s gave 227 ms for ~3 points more of one core).
    poll_timeout_s: float = Field(default=0.05, gt=0)
    # Backoff between attempts at a batch while PostgreSQL or Kafka is unreachable.
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=10.0, gt=0)
    # librdkafka statistics (consumer lag) every this many ms; 0 turns them off.
    stats_interval_ms: int = Field(default=5_000, ge=0)
    # Prometheus endpoint; None (the default) serves no metrics.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)

    @property
    def consumer_group(self) -> str:
        return f"{self.kafka.topic_prefix}{self.group_id}"

    @property
    def decisions_topic(self) -> str:
        return f"{self.kafka.topic_prefix}{DECISIONS.name}"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.kafka.topic_prefix}{DEAD_LETTER.name}"
