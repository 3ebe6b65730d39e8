"""Settings of the local stack (``SENTINEL_STACK_*``): where its files live and how big it is.

Addresses are not here: each server binds to the address its clients read from
``schemas.connections``, so one variable moves both sides.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection

_REPO = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _default_dir() -> Path:
    # A checkout keeps its stack beside itself (ignored by git); an installed copy has no
    # checkout, so it falls back to the user's state directory.
    if (_REPO / "pyproject.toml").exists():
        return _REPO / ".stack"
    return Path.home() / ".local" / "state" / "sentinelstream"


class StackSettings(BaseSettings):
    """Data directories, memory and timeouts of the local Kafka, PostgreSQL and Redis."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_STACK_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    dir: Path = Field(default_factory=_default_dir)
    """The local stack's data, logs and pid files (an installed copy without a checkout:
    `~/.local/state/sentinelstream`)."""
    kafka_version: str = "4.4.0"
    """The Apache Kafka release fetched from Maven Central."""
    kafka_controller_port: int = 9093
    """The KRaft controller listener (node n from 0: this + 2n)."""
    kafka_brokers: int = Field(default=1, ge=1, le=5)
    """KRaft nodes, broker and controller each in one process: 1 for development, 3 for a
    cluster that survives a broker's loss (`stack up --brokers 3`; docs/kafka-cluster.md).
    Node n (from 0) listens on the bootstrap port + 2n and the controller port + 2n, unless
    `SENTINEL_KAFKA_BOOTSTRAP_SERVERS` lists one address per node."""
    kafka_sasl_ssl_port: int = 9192
    """The SASL_SSL listener every service of `make up` uses (TLS + SCRAM, ACLs:
    docs/security.md); node n (from 0) listens on this + 2n."""
    kafka_dev_listener: bool = True
    """Keep the loopback PLAINTEXT listener on the client port, its ANONYMOUS principal a
    super user: a development convenience (the test suites, `sentinel` commands); false
    removes it."""
    kafka_heap: str = "1g"
    """Maximum heap of each broker (three nodes take three times this)."""
    kafka_jvm_options: str = ""
    """More JVM options for each broker and Kafka's tools, space-separated. For a short-lived
    broker, `-XX:TieredStopAtLevel=1` (the quick JIT compiler only) halves the CPU of its
    start (~11 to ~5 CPU-seconds here) for slower code once it is busy: the test suites'
    private brokers use it."""
    kafka_jar_cache: Path = Path.home() / ".cache" / "sentinelstream"
    """Where the broker's jars are kept."""
    kafka_partitions_default: int = 6
    """The brokers' `num.partitions`: partitions of a topic created without a count."""
    postgres_data: Path | None = None
    """PostgreSQL's data directory. Unset: `<stack dir>/postgres`; as root
    `/var/lib/postgresql/sentinelstream/<key of this checkout>`, since PostgreSQL refuses to
    run as root and its own user may not reach the checkout
    (docs/operations.md#the-local-stack)."""
    postgres_shared_buffers: str = "128MB"
    """PostgreSQL's shared buffers."""
    postgres_max_connections: int = 200
    """PostgreSQL's connection limit."""
    # Idempotency keys live 24 h and are never evicted: at 136 bytes each 1 GiB holds a day of
    # ~73 POSTs a second.
    redis_maxmemory: str = "1gb"
    """Redis's memory cap: writes are refused beyond it, and every ingest then answers 503
    (docs/operations.md#the-idempotency-stores-capacity)."""
    start_timeout_s: float = 120.0
    """How long `stack up` waits for each service."""
    stop_timeout_s: float = 60.0
    """How long `stack down` waits for each service to stop."""
    agents_metrics_port: int = 9101
    """The demo pipeline's (`make up`) first agent worker's metrics port; worker N gets this
    + N - 1."""
    pipeline_ready_timeout_s: float = 90.0
    """How long `sentinel pipeline up` waits for every service to stay up and the first
    decision to reach the ledger."""
    pipeline_sasl_ssl: bool = True
    """Run the demo pipeline's services over the SASL_SSL listener, each as its own
    principal (docs/security.md); false leaves them on `SENTINEL_KAFKA_*` as set (a
    checkout sharing a broker another stack directory started has neither its CA nor its
    principals' passwords)."""
    bootstrap_customers: int = 2000
    """Customers of the simulated history the first model is trained on (`sentinel pipeline
    bootstrap`)."""
    bootstrap_terminals: int = 4000
    """Terminals of the simulated history the first model is trained on."""
    bootstrap_days: int = 70
    """Days of the simulated history the first model is trained on."""
    bootstrap_rounds: int | None = Field(default=None, ge=1)
    """Boosting rounds of the first model (`sentinel train --rounds`); unset, the validated
    default point's. Fewer rounds train faster and score worse (the newcomer test uses 20)."""

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)
    redis: RedisConnection = Field(default_factory=RedisConnection)

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def agents_data(self) -> Path:
        """The demo's agent workers' table stores, a folder each (``deploy.local.pipeline``)."""
        return self.dir / "agents"

    @property
    def demo_api_key(self) -> Path:
        """The demo API key `sentinel pipeline bootstrap` creates (mode 0600)."""
        return self.dir / "demo" / "api-key"

    @property
    def kafka_libs(self) -> Path:
        return self.kafka_jar_cache / f"kafka-{self.kafka_version}" / "libs"

    def postgres_data_dir(self) -> Path:
        """PostgreSQL refuses to run as root, so as root its files go where its own user can
        reach them (a checkout under /root is not), keyed by this stack's directory."""
        if self.postgres_data is not None:
            return self.postgres_data
        if os.geteuid() != 0:
            return self.dir / "postgres"
        key = hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/postgresql/sentinelstream") / key


def host_port(address: str, default_port: int) -> tuple[str, int]:
    """Split ``host:port`` or a URL into a host and a port."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    return parts.hostname or "127.0.0.1", parts.port or default_port
