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

    model_config = SettingsConfigDict(env_prefix="SENTINEL_API_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # /docs, /redoc, /openapi.json and /metrics. None (the default): served only while the
    # API listens on a loopback address; set true to serve them on any address.
    expose_docs: bool | None = None
    expose_metrics: bool | None = None

    batch_max_items: int = Field(default=500, ge=1, le=10_000)
    # Request bodies past this are a 413, read no further (500 transactions take ~200 KB).
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    # Synchronous authorize: how long a gateway may wait for a decision.
    authorize_deadline_ms: int = Field(default=150, ge=1)
    authorize_deadline_min_ms: int = 10
    authorize_deadline_max_ms: int = 2_000
    # What authorize answers when no decision comes in time; marked as a fallback.
    authorize_fallback: Outcome = Outcome.REVIEW

    idempotency_ttl_s: int = 24 * 60 * 60
    # A first request still in flight after this long is presumed dead; its key is freed.
    idempotency_lock_s: int = 30
    # The store (Redis, noeviction) refuses every write when full: warn, and raise the
    # sentinel_api_idempotency_store_near_full gauge, from this fill ratio on; read the
    # fill level this often (and at every /metrics scrape).
    idempotency_store_warn_ratio: float = Field(default=0.8, gt=0, le=1)
    idempotency_store_poll_s: float = Field(default=15.0, gt=0)
    # How long a transaction id stays claimed with its content hash: a reuse with other
    # content within it is a 409 (0 turns the check off; the sink still dead-letters reuses).
    # Redis holds one small key per transaction for this long: see docs/operations.md.
    transaction_id_window_s: int = Field(default=DEFAULT_WINDOW_S, ge=0)

    # Per API key unless the key carries its own limits.
    rate_limit_per_second: int = Field(default=2_000, ge=1)
    rate_limit_burst: int = Field(default=4_000, ge=1)

    # A rules dry run stops evaluating after this long (in a worker thread) and answers
    # with what it evaluated, "complete": false.
    rules_dry_run_budget_s: float = Field(default=5.0, gt=0, le=60)

    # The event-time window of schemas.validation (the agents apply its defaults).
    max_future_skew_s: int = DEFAULT_WINDOW.max_future_skew_s
    max_age_days: int = DEFAULT_WINDOW.max_age_days

    # Kafka produce: how long a request waits for the broker's acknowledgement before 503.
    produce_timeout_ms: int = 5_000
    producer_linger_ms: float = 2.0

    # Keyed hash of API keys: a database leak alone does not let anyone test key guesses.
    api_key_pepper: SecretStr = SecretStr(DEFAULT_PEPPER)
    # Looked-up keys are cached for this long: revocation takes effect within it.
    api_key_cache_s: float = 10.0
    # Most keys (known and unknown) cached per process; the least recently used go first.
    api_key_cache_max: int = Field(default=10_000, ge=1)
    # api_keys.last_used_at is written at most this often per key (one UPDATE per round).
    api_key_last_used_s: float = Field(default=60.0, gt=0)
    # Failed authentications per client address per minute before it is answered 429.
    auth_failures_per_minute: int = Field(default=30, ge=1)

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
