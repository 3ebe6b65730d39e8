"""Settings of `sentinel rules relay` (``SENTINEL_RULES_RELAY_*``), built at its entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection


class RelaySettings(BaseSettings):
    """How often the relay sweeps, how long it waits for Kafka, where it reports."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_RULES_RELAY_", frozen=True, extra="ignore"
    )

    # A committed version wakes the relay at once (LISTEN/NOTIFY); the sweep only bounds
    # the delay of a notification missed while the relay was reconnecting.
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # How long one pass waits for Kafka's acknowledgements before it gives up (and retries).
    produce_timeout_s: float = Field(default=10.0, gt=0)
    # Backoff between attempts while PostgreSQL or Kafka is unreachable.
    retry_initial_s: float = Field(default=0.2, gt=0)
    retry_max_s: float = Field(default=10.0, gt=0)
    # Prometheus endpoint; None (the default) serves no metrics.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)
