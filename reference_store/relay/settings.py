"""Settings of `sentinel rules relay` (``SENTINEL_RULES_RELAY_*``), built at its entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection


class RelaySettings(BaseSettings):
    """How often the relay sweeps, how long it waits for Kafka, where it reports."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_RULES_RELAY_",
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    sweep_interval_s: float = Field(default=5.0, gt=0)
    """The sweep between notifications: a committed version wakes the relay at once
    (LISTEN/NOTIFY); the sweep only bounds the delay of a notification missed while the
    relay was reconnecting (docs/rules.md#the-rules-relay-the-outbox)."""
    produce_timeout_s: float = Field(default=10.0, gt=0)
    """How long one pass waits for Kafka's acknowledgements before it gives up (and retries)."""
    retry_initial_s: float = Field(default=0.2, gt=0)
    """First backoff between attempts while PostgreSQL or Kafka is unreachable."""
    retry_max_s: float = Field(default=10.0, gt=0)
    """Longest backoff between attempts."""
    metrics_port: int | None = None
    """Port of the Prometheus endpoint; unset serves no metrics."""
    metrics_host: str = "127.0.0.1"
    """Address the Prometheus endpoint listens on."""
    log_level: str = "INFO"
    """Python logging level."""

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)
