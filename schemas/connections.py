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

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_KAFKA_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    bootstrap_servers: str = "127.0.0.1:9092"
    """The brokers, comma-separated `host:port` (the local broker binds here)."""
    topic_prefix: str = ""
    """Prepended to every declared topic name: lets tests and parallel environments share a
    cluster without seeing each other's records."""
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How the client talks to the brokers. A production cluster runs SASL_SSL: TLS against
    `SENTINEL_KAFKA_SSL_CA_FILE`, and a SCRAM principal per service whose ACLs name its
    topics and groups (docs/security.md)."""
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    """The SASL mechanism, with a SASL_* protocol."""
    sasl_username: str = ""
    """This client's principal, with a SASL_* protocol (each service its own)."""
    sasl_password: SecretStr = SecretStr("")
    """That principal's password (`sentinel stack up` writes the local ones to
    `.stack/sentinel.env`)."""
    ssl_ca_file: Path | None = None
    """PEM file of the certificate authority that signed the brokers' certificates; unset
    means the system's trust store."""

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")


class PostgresConnection(BaseSettings):
    """The application's database and the superuser the stack uses to create it."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_POSTGRES_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    dsn: SecretStr = SecretStr("postgresql://sentinel:sentinel@127.0.0.1:5433/sentinel")
    """The application's database: for `sentinel db migrate`, the migration role (the tables'
    owner); for a service, its runtime role (docs/ledger.md#database-roles; the local demo
    and the tests use the owner for everything). Its default password is refused off
    loopback (see Default secrets); `sentinel stack up` replaces it in `.stack/sentinel.env`."""
    admin_dsn: SecretStr = SecretStr("postgresql://postgres:postgres@127.0.0.1:5433/postgres")
    """The superuser, for the stack, `sentinel db roles` and the test suites' fixtures
    (likewise refused off loopback with its default password)."""


class RedisConnection(BaseSettings):
    """The Redis instance for idempotency keys and rate limits (``SENTINEL_REDIS_URL``)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_REDIS_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    url: SecretStr = SecretStr("redis://127.0.0.1:6380/0")
    """Redis: the API's idempotency keys and limits, the agents' transaction id claims, the
    console's sessions. No password is refused off loopback; the local stack's has one user,
    `default`: `redis://default:PASSWORD@127.0.0.1:6380/0`."""
