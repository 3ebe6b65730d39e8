"""Connection settings for Kafka, PostgreSQL and Redis, read under the same names by every part.

Each service composes these into its own frozen settings class; the local stack binds its
servers to the addresses named here, so one set of variables configures both sides.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaConnection(BaseSettings):
    """Where the brokers are and how topic names are prefixed (``SENTINEL_KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Prepended to every declared topic name: lets tests and parallel environments share a
    # cluster without seeing each other's records.
    topic_prefix: str = ""


class PostgresConnection(BaseSettings):
    """The application's database and the superuser the stack uses to create it."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_POSTGRES_", frozen=True, extra="ignore")

    dsn: SecretStr = SecretStr("postgresql://sentinel:sentinel@127.0.0.1:5433/sentinel")
    admin_dsn: SecretStr = SecretStr("postgresql://postgres:postgres@127.0.0.1:5433/postgres")


class RedisConnection(BaseSettings):
    """The Redis instance for idempotency keys and rate limits (``SENTINEL_REDIS_URL``)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_REDIS_", frozen=True, extra="ignore")

    url: SecretStr = SecretStr("redis://127.0.0.1:6380/0")
