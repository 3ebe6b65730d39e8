"""Settings of the ingest API (``SENTINEL_API_*``), built once at the entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.enums import Outcome
from schemas.webhook_targets import WebhookTargetPolicy


class ApiSettings(BaseSettings):
    """Everything the API process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_API_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    batch_max_items: int = Field(default=500, ge=1, le=10_000)
    # Synchronous authorize: how long a gateway may wait for a decision.
    authorize_deadline_ms: int = Field(default=150, ge=1)
    authorize_deadline_min_ms: int = 10
    authorize_deadline_max_ms: int = 2_000
    # What authorize answers when no decision comes in time; marked as a fallback.
    authorize_fallback: Outcome = Outcome.REVIEW

    idempotency_ttl_s: int = 24 * 60 * 60
    # A first request still in flight after this long is presumed dead; its key is freed.
    idempotency_lock_s: int = 30

    # Per API key unless the key carries its own limits.
    rate_limit_per_second: int = Field(default=2_000, ge=1)
    rate_limit_burst: int = Field(default=4_000, ge=1)

    max_future_skew_s: int = 300
    max_age_days: int = 90

    # Kafka produce: how long a request waits for the broker's acknowledgement before 503.
    produce_timeout_ms: int = 5_000
    producer_linger_ms: float = 2.0

    # Keyed hash of API keys: a database leak alone does not let anyone test key guesses.
    api_key_pepper: SecretStr = SecretStr("sentinel-local-pepper")
    # Looked-up keys are cached for this long: revocation takes effect within it.
    api_key_cache_s: float = 10.0

    # Which webhook URLs an admin may subscribe (SENTINEL_WEBHOOKS_ALLOW_HTTP,
    # _ALLOWED_NETWORKS): the same variables the dispatcher checks at every connection.
    webhook_targets: WebhookTargetPolicy = Field(default_factory=WebhookTargetPolicy)
    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)
    redis: RedisConnection = Field(default_factory=RedisConnection)
