"""Settings of the ingest API (``SENTINEL_API_*``), built once at the entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.enums import Outcome
from schemas.secrets import (
    DEFAULT_PEPPER,
    Secret,
    is_loopback,
    pepper_secret,
    refuse_default_secrets,
)
from schemas.transaction_claims import DEFAULT_WINDOW_S
from schemas.validation import DEFAULT_WINDOW
from schemas.webhook_targets import WebhookTargetPolicy

__all__ = ["ApiSettings", "is_loopback"]


class ApiSettings(BaseSettings):
    """Everything the API process reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_API_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    host: str = "127.0.0.1"
    """Address the API listens on (`0.0.0.0` and `::` are not loopback: the default secrets
    are then refused)."""
    port: int = 8000
    """Port the API listens on."""
    workers: int = 1
    """API worker processes."""
    expose_docs: bool | None = None
    """Serve `/docs`, `/redoc` and `/openapi.json`. Unset: only while the API listens on a
    loopback address; set true to serve them on any address."""
    expose_metrics: bool | None = None
    """Serve `/metrics`. Unset: only while the API listens on a loopback address; set true
    where Prometheus scrapes a public API (ideally behind a network policy)."""

    batch_max_items: int = Field(default=500, ge=1, le=10_000)
    """Most transactions in one `POST /v1/transactions/batch`."""
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    """Largest request body; past it `413 payload_too_large`, the rest never read (500
    transactions take ~200 KB)."""
    authorize_deadline_ms: int = Field(default=150, ge=1)
    """Synchronous authorize: how long a gateway waits for a decision unless it asks for
    another deadline (within the bounds below)."""
    authorize_deadline_min_ms: int = 10
    """The shortest deadline an authorize request may ask for."""
    authorize_deadline_max_ms: int = 2_000
    """The longest deadline an authorize request may ask for."""
    authorize_fallback: Outcome = Outcome.REVIEW
    """The outcome authorize answers when no decision comes in time, marked as a fallback."""

    idempotency_ttl_s: int = 24 * 60 * 60
    """How long a POST's answer is kept for its retries (Redis memory grows with it:
    docs/operations.md#the-idempotency-stores-capacity)."""
    idempotency_lock_s: int = 30
    """A first request still in flight after this long is presumed dead; its key is freed."""
    # The store (Redis, noeviction) refuses every write when full.
    idempotency_store_warn_ratio: float = Field(default=0.8, gt=0, le=1)
    """From this fill ratio of Redis's memory on, a warning is logged and
    `sentinel_api_idempotency_store_near_full` is 1."""
    idempotency_store_poll_s: float = Field(default=15.0, gt=0)
    """How often the idempotency store's fill level is read (and at every `/metrics`
    scrape)."""
    transaction_id_window_s: int = Field(default=DEFAULT_WINDOW_S, ge=0)
    """How long a published transaction id stays claimed in Redis with its content hash: a
    reuse with other content within it is `409 transaction_id_conflict` (0 turns the check
    off; the agents and the sink still dead-letter reuses). The agents read it too (their
    claims' window) unless `SENTINEL_AGENTS_TRANSACTION_ID_WINDOW_S` is set. One key per
    transaction for that long, ~200 bytes each (docs/operations.md#the-local-stack)."""

    rate_limit_per_second: int = Field(default=2_000, ge=1)
    """Requests per second per API key, unless the key carries its own limits."""
    rate_limit_burst: int = Field(default=4_000, ge=1)
    """Burst per API key, unless the key carries its own limits."""

    rules_dry_run_budget_s: float = Field(default=5.0, gt=0, le=60)
    """A rules dry run stops evaluating after this long (in a worker thread) and answers with
    what it evaluated, `"complete": false`."""

    max_future_skew_s: int = DEFAULT_WINDOW.max_future_skew_s
    """The event-time window of schemas.validation: how far ahead of the clock a
    transaction's time may be (the agents apply the defaults)."""
    max_age_days: int = DEFAULT_WINDOW.max_age_days
    """The event-time window of schemas.validation: how old a transaction may be."""

    produce_timeout_ms: int = 5_000
    """The longest wait for Kafka's acknowledgement before `503`."""
    producer_linger_ms: float = 2.0
    """How long the Kafka producer gathers records into a batch."""

    api_key_pepper: SecretStr = SecretStr(DEFAULT_PEPPER)
    """Secret for the keyed hash of API keys (a database leak alone does not let anyone test
    key guesses). The public default is refused once a host is not loopback; `make up`
    writes a random one to `.stack/sentinel.env`."""
    api_key_cache_s: float = 10.0
    """How long a process caches looked-up API keys: a revocation takes effect within it."""
    api_key_cache_max: int = Field(default=10_000, ge=1)
    """Most keys (known and unknown) a process caches; the least recently used go first."""
    api_key_last_used_s: float = Field(default=60.0, gt=0)
    """How often a process writes `api_keys.last_used_at` (at most once per key per period,
    one UPDATE per round)."""
    auth_failures_per_minute: int = Field(default=30, ge=1)
    """Failed authentications per client address per minute before it is answered `429`."""

    def docs_enabled(self) -> bool:
        return self.expose_docs if self.expose_docs is not None else is_loopback(self.host)

    def metrics_enabled(self) -> bool:
        return self.expose_metrics if self.expose_metrics is not None else is_loopback(self.host)

    def pepper_secret(self) -> Secret:
        """The pepper, for schemas.secrets: default when it is the shipped one or empty."""
        return pepper_secret("SENTINEL_API_API_KEY_PEPPER", self.api_key_pepper.get_secret_value())

    def refuse_default_secrets(self) -> None:
        """Raise DefaultSecretError (schemas.secrets) before anything listens or connects if
        a shipped password or pepper is in use while any host, or the bind address, is not
        loopback."""
        refuse_default_secrets(
            self.kafka,
            self.postgres,
            self.redis,
            bind_hosts=[self.host],
            secrets=[self.pepper_secret()],
        )

    # Which webhook URLs an admin may subscribe (SENTINEL_WEBHOOKS_ALLOW_HTTP,
    # _ALLOWED_NETWORKS): the same variables the dispatcher checks at every connection.
    webhook_targets: WebhookTargetPolicy = Field(default_factory=WebhookTargetPolicy)
    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)
    redis: RedisConnection = Field(default_factory=RedisConnection)
