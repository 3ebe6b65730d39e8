"""Settings of the ledger's consumers: the decision sink (``SENTINEL_SINK_*``) and what it
shares with the labels sink; built once at the entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_sink.heads import MIN_KEY_BYTES
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import DEAD_LETTER, DECISIONS, LEDGER_HEADS


class LedgerSigning(BaseSettings):
    """The key that signs the ledger's chain heads (``SENTINEL_LEDGER_*``): the sink signs
    with it, `sentinel ledger verify` checks with it. The database never holds it."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_LEDGER_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    signing_key: SecretStr | None = None
    """Secret (32+ bytes) the sinks sign each account's chain head with (HMAC-SHA256) and
    `sentinel ledger verify` checks them with; keep it out of the database and away from
    its administrators (docs/ledger.md#signed-chain-heads). Unset: heads are neither signed
    nor checked (the demo's and the tests' default)."""
    heads_interval_s: float = Field(default=10.0, ge=0)
    """How often the sink publishes the heads that moved on `ledger-heads` (0: after every
    batch). A tail written since the last signature is protected by the chain alone until
    the next one."""

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"the ledger signing key needs at least {MIN_KEY_BYTES} bytes")
        return key

    def key(self) -> bytes | None:
        return None if self.signing_key is None else self.signing_key.get_secret_value().encode()

    def heads_topic(self, prefix: str) -> str:
        return f"{prefix}{LEDGER_HEADS.name}"


class ConsumerSettings(BaseSettings):
    """What every ledger consumer (the decision sink, the labels sink) reads from its
    environment; each subclass names its own variable prefix."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)

    group_id: str = "ledger-sink"
    """The consumer group, prefixed with the topic prefix (parallel environments never share
    offsets)."""
    instance_id: str | None = None
    """Kafka static membership (group.instance.id), one per replica (e.g. the pod name): a
    restarted consumer takes its partitions back at once instead of after the session
    timeout. Unset: dynamic membership."""
    session_timeout_ms: int = Field(default=45_000, ge=1_000)
    """How long the group waits for a silent consumer before its partitions go elsewhere."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """Records per database transaction: larger batches amortise the round trips."""
    poll_timeout_s: float = Field(default=0.2, gt=0)
    """The longest wait for a batch's first record; an idle consumer checks for a stop this
    often. It adds no latency: a batch starts when its first record arrives."""
    # A batch used to be librdkafka's consume(batch_size, poll_timeout_s), which returns at
    # the timeout's end whenever fewer than a batch of records wait: at a steady rate that
    # end was most of the sink's latency (docs/ledger.md#the-ledger-sink).
    # make bench, one run each (2026-12-06): sink stage p99 at 500 tx/s 191 ms before, 115 ms
    # with no gathering and 59 ms with 10 ms; sink + PostgreSQL CPU a transaction at 250
    # tx/s 1,021, 2,337 and 1,488 µs (each batch is a dozen statements and a commit).
    gather_ms: float = Field(default=10.0, ge=0, le=1_000)
    """How long a batch gathers records after its first (0: only what was already fetched,
    under load what arrived while the previous batch was written). Longer makes larger
    database transactions, which cost the sink and PostgreSQL less CPU a decision, for
    that much more latency."""
    commit_interval_s: float = Field(default=1.0, ge=0)
    """The consumer's offsets are committed at most this often (and when its partitions are
    revoked, and at a stop): each commit costs the broker ~0.2 ms of CPU. A crash delivers
    up to this much of the stream again, which the database makes harmless (its dead
    letters are sent again). 0: every batch."""
    retry_initial_s: float = Field(default=0.2, gt=0)
    """First backoff between attempts at a batch while PostgreSQL or Kafka is unreachable."""
    retry_max_s: float = Field(default=10.0, gt=0)
    """Longest backoff between attempts at a batch."""
    stats_interval_ms: int = Field(default=5_000, ge=0)
    """librdkafka statistics (consumer lag) every this many ms; 0 turns them off."""
    metrics_port: int | None = None
    """Port of the Prometheus endpoint; unset serves no metrics."""
    metrics_host: str = "127.0.0.1"
    """Address the Prometheus endpoint listens on."""
    log_level: str = "INFO"
    """Python logging level."""

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)

    @property
    def consumer_group(self) -> str:
        return f"{self.kafka.topic_prefix}{self.group_id}"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.kafka.topic_prefix}{DEAD_LETTER.name}"


class SinkSettings(ConsumerSettings):
    """Everything `sentinel sink run` reads from its environment (``SENTINEL_SINK_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_SINK_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    signing: LedgerSigning = Field(default_factory=LedgerSigning)
    """The chain heads' key (``SENTINEL_LEDGER_*``)."""

    @property
    def decisions_topic(self) -> str:
        return f"{self.kafka.topic_prefix}{DECISIONS.name}"
