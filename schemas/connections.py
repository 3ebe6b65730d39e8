"""Connection settings for Kafka, PostgreSQL and Redis, read under the same names by every part.

Each service composes these into its own frozen settings class; the local stack binds its
servers to the addresses named here, so one set of variables configures both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaConnection(BaseSettings):
    """Where the brokers are, who this client is to them, and how topic names are prefixed
    (``SENTINEL_KAFKA_*``). Every Kafka client of every service is built from this one
    object by ``schemas.kafka_edge``: librdkafka, aiokafka (faust), the admin client."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    # Prepended to every declared topic name: lets tests and parallel environments share a
    # cluster without seeing each other's records.
    topic_prefix: str = ""
    # How the client talks to the brokers. A production cluster runs SASL_SSL: TLS against
    # `ssl_ca_file`, and a SCRAM principal per service whose ACLs name its topics and groups.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    # PEM file of the certificate authority that signed the brokers' certificates; none means
    # the system's trust store.
    ssl_ca_file: Path | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


class PostgresConnection(BaseSettings):
    """The application's database and the superuser the stack uses to create it."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_POSTGRES_", frozen=True, extra="ignore")

    dsn: SecretStr = SecretStr("postgresql://sentinel:sentinel@127.0.0.1:5433/sentinel")
    admin_dsn: SecretStr = SecretStr("postgresql://postgres:postgres@127.0.0.1:5433/postgres")


class RedisConnection(BaseSettings):
    """The Redis instance for idempotency keys and rate limits (``SENTINEL_REDIS_URL``)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_REDIS_", frozen=True, extra="ignore")

    url: SecretStr = SecretStr("redis://127.0.0.1:6380/0")
