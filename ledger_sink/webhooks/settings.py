"""Settings of the webhook dispatcher (``SENTINEL_WEBHOOKS_*``), built at the entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import DEAD_LETTER, WEBHOOKS, WEBHOOKS_DEAD_LETTER, WEBHOOKS_RETRY
from schemas.webhook_targets import WebhookTargetPolicy


class WebhookSettings(BaseSettings):
    """Everything `sentinel webhooks run` reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_WEBHOOKS_", frozen=True, extra="ignore")

    # Both prefixed with the topic prefix; a group of its own keeps the dispatcher off the
    # decision stream's consumers entirely.
    group_id: str = "webhook-dispatcher"
    retry_group_id: str = "webhook-retry"
    # Static membership (group.instance.id) per replica: a restart resumes at once.
    instance_id: str | None = None
    session_timeout_ms: int = Field(default=45_000, ge=1_000)

    # Attempt n (n >= 1) that fails waits about backoff_base_s * 2**(n-1), capped, with
    # jitter; attempt `max_attempts` that fails goes to the dead-letter topic.
    max_attempts: int = Field(default=10, ge=1)
    backoff_base_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=600.0, gt=0)

    # Whole-request deadline (connect, send, response headers): a hanging receiver costs
    # one slot this long, then the delivery goes to retry.
    request_timeout_s: float = Field(default=10.0, gt=0)
    max_concurrency: int = Field(default=64, ge=1)
    # Per subscriber, so one slow receiver can never hold every global slot.
    per_subscriber_concurrency: int = Field(default=8, ge=1)
    # How long a new delivery may wait for one of its subscriber's slots before it is
    # parked for a request timeout: a healthy subscriber drains a burst well within it; a
    # slow one never holds the events topic (and so the other subscribers) for longer.
    slot_wait_s: float = Field(default=1.0, gt=0)
    # Parked deliveries are stored as one retry record per subscriber per flush (the
    # events they came from are committed after it: keep it within the commit interval).
    park_flush_s: float = Field(default=1.0, gt=0)
    park_batch_bytes: int = Field(default=512 * 1024, ge=1024)

    # Open a subscriber's circuit after this many consecutive failures, for this long.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)

    subscription_cache_s: float = Field(default=5.0, ge=0)
    # Delivery statistics per subscription and minute (webhook_delivery_stats): written
    # this often, one upsert each time; while the database is away, at most this many
    # (subscription, minute) rows wait in memory, the oldest dropped beyond it.
    stats_flush_s: float = Field(default=5.0, gt=0)
    stats_max_rows: int = Field(default=50_000, ge=100)
    # Records read but not finished, per consumer; beyond it the consumer pauses.
    max_pending: int = Field(default=5_000, ge=1)
    batch_size: int = Field(default=200, ge=1)
    poll_timeout_s: float = Field(default=0.2, gt=0)
    commit_interval_s: float = Field(default=1.0, gt=0)
    # On SIGTERM, in-flight deliveries get this long to finish before they are abandoned
    # (uncommitted, so redelivered on the next start).
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    # Where deliveries may go (SENTINEL_WEBHOOKS_ALLOW_HTTP, _ALLOWED_NETWORKS), checked
    # again at every connection: the admin API reads the same variables at registration.
    targets: WebhookTargetPolicy = Field(default_factory=WebhookTargetPolicy)
    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)

    def topic(self, name: str) -> str:
        return f"{self.kafka.topic_prefix}{name}"

    @property
    def events_topic(self) -> str:
        return self.topic(WEBHOOKS.name)

    @property
    def retry_topic(self) -> str:
        return self.topic(WEBHOOKS_RETRY.name)

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(WEBHOOKS_DEAD_LETTER.name)

    @property
    def undecodable_topic(self) -> str:
        """Where records that are not WebhookEvents go: the project-wide dead-letter topic."""
        return self.topic(DEAD_LETTER.name)
