"""Settings of the webhook dispatcher (``SENTINEL_WEBHOOKS_*``), built at the entry point."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import DEAD_LETTER, WEBHOOKS, WEBHOOKS_DEAD_LETTER, WEBHOOKS_RETRY
from schemas.webhook_targets import WebhookTargetPolicy


class WebhookSettings(BaseSettings):
    """Everything `sentinel webhooks run` reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_WEBHOOKS_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    # A group of its own keeps the dispatcher off the decision stream's consumers entirely.
    group_id: str = "webhook-dispatcher"
    """The consumer group of the events topic, prefixed with the topic prefix."""
    retry_group_id: str = "webhook-retry"
    """The consumer group of the retry topic, prefixed with the topic prefix."""
    instance_id: str | None = None
    """Static membership (group.instance.id) per replica: a restart resumes at once. Unset:
    dynamic membership."""
    session_timeout_ms: int = Field(default=45_000, ge=1_000)
    """How long the group waits for a silent dispatcher before its partitions go elsewhere."""

    max_attempts: int = Field(default=10, ge=1)
    """Attempts per delivery: the last one that fails goes to the dead-letter topic."""
    backoff_base_s: float = Field(default=1.0, gt=0)
    """Attempt n (from 1) that fails waits about this * 2**(n-1), capped, with jitter."""
    backoff_max_s: float = Field(default=600.0, gt=0)
    """The cap of the wait between attempts."""

    request_timeout_s: float = Field(default=10.0, gt=0)
    """Whole-request deadline (connect, send, response headers): a hanging receiver costs one
    slot this long, then the delivery goes to retry."""
    max_concurrency: int = Field(default=64, ge=1)
    """Deliveries in flight at once, over every subscriber."""
    per_subscriber_concurrency: int = Field(default=8, ge=1)
    """Deliveries in flight at once per subscriber, so one slow receiver can never hold every
    slot."""
    slot_wait_s: float = Field(default=1.0, gt=0)
    """How long a new delivery may wait for one of its subscriber's slots before it is parked
    for a request timeout: a healthy subscriber drains a burst well within it; a slow one
    never holds the events topic (and so the other subscribers) for longer
    (docs/ledger.md#a-dead-subscriber-costs-almost-nothing)."""
    # The events parked deliveries came from are committed after the flush: keep it within
    # the commit interval.
    park_flush_s: float = Field(default=1.0, gt=0)
    """How often parked deliveries are stored, one retry record per subscriber per flush."""
    park_batch_bytes: int = Field(default=512 * 1024, ge=1024)
    """The size at which a subscriber's parked deliveries are stored without waiting for the
    flush."""

    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failures after which a subscriber's circuit opens."""
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    """How long a subscriber's circuit stays open."""

    subscription_cache_s: float = Field(default=5.0, ge=0)
    """How long the subscriptions read from the database are cached (a change takes effect
    within it)."""
    stats_flush_s: float = Field(default=5.0, gt=0)
    """How often the per-subscription, per-minute delivery statistics
    (`webhook_delivery_stats`) are upserted, one upsert each time
    (docs/ledger.md#delivery-statistics-per-subscription)."""
    stats_max_rows: int = Field(default=50_000, ge=100)
    """How many (subscription, minute) statistics rows may wait in memory while PostgreSQL is
    away; the oldest are dropped beyond it."""
    max_pending: int = Field(default=5_000, ge=1)
    """Records read but not finished, per consumer; beyond it the consumer pauses."""
    batch_size: int = Field(default=200, ge=1)
    """Records per consume call."""
    poll_timeout_s: float = Field(default=0.2, gt=0)
    """The longest wait of one consume call."""
    # make bench, two runs against eight (2026-12-06): the dispatcher 262-287 -> 210 and 238
    # us of CPU a transaction at 250 tx/s, 137-147 -> 115 and 121 at 500 (0 -> 10 ms).
    # 10 -> 100 ms, alternated twice (2026-12-07): the dispatcher 250 / 290 -> 110 / 85 us
    # at 250 tx/s, the broker 1,447 / 1,522 -> 1,285 / 1,124, the machine 85 / 83 -> 76 /
    # 69 % busy; at rest its idle fetches 100 -> 10 a second (docs/performance.md).
    fetch_gather_ms: int = Field(default=100, ge=0, le=500)
    """How long the broker may hold each of the dispatcher's fetches to gather records (unless
    64 KiB wait): fewer fetches to write and answer at a steady rate, for up to this much
    more latency a delivery. 0: an answer at the first record."""
    commit_interval_s: float = Field(default=1.0, gt=0)
    """How often finished records' offsets are committed."""
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    """On SIGTERM, how long in-flight deliveries get to finish before they are abandoned
    (uncommitted, so redelivered on the next start)."""

    metrics_port: int | None = None
    """Port of the Prometheus endpoint; unset serves no metrics."""
    metrics_host: str = "127.0.0.1"
    """Address the Prometheus endpoint listens on."""
    log_level: str = "INFO"
    """Python logging level."""

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
