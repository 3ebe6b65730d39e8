"""Settings of the analyst console (``SENTINEL_CONSOLE_*``), built once at the entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.secrets import is_loopback, refuse_default_secrets


class ConsoleSettings(BaseSettings):
    """Everything the console process reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_CONSOLE_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    # Its own port, never the API's: see docs/adr/0006-console-as-its-own-service.md.
    host: str = "127.0.0.1"
    """Address the analyst console listens on (docs/console.md)."""
    port: int = 8100
    """Port the analyst console listens on."""
    secure_cookies: bool | None = None
    """The `Secure` attribute of the console's cookies. Unset: on unless the console listens
    on loopback only (plain http there); set true behind a TLS-terminating proxy on
    loopback."""

    session_idle_s: int = Field(default=30 * 60, ge=30)
    """A console session ends after this long without a request."""
    session_absolute_s: int = Field(default=12 * 60 * 60, ge=60)
    """A console session ends this long after sign-in at most."""
    lockout_user_failures: int = Field(default=5, ge=1)
    """Failed sign-ins of one user name within the window before further sign-ins of it are
    refused (429) until the window slides past."""
    lockout_address_failures: int = Field(default=20, ge=1)
    """Failed sign-ins from one client address within the window before further sign-ins
    from it are refused (429)."""
    lockout_window_s: int = Field(default=15 * 60, ge=1)
    """The sliding window of the sign-in lock-out."""
    redis_prefix: str = "console"
    """Prefix of every Redis key the console writes (sessions, lock-out counters, review
    claims)."""
    pool_max: int = Field(default=4, ge=1)
    """PostgreSQL connections the console may hold: few, its pages are not the hot path."""
    review_sla_minutes: int = Field(default=60, ge=1)
    """The review queue: a case older than this is past its SLA (amber past three
    quarters)."""
    review_claim_s: int = Field(default=15 * 60, ge=30)
    """How long an analyst's claim of a case holds unless renewed."""
    resolve_wait_s: float = Field(default=5.0, ge=0)
    """After publishing a resolution, how long the page waits for the reviews sink to apply
    it before saying it is pending."""

    produce_timeout_ms: int = Field(default=5000, ge=100)
    """How long a rule's save or a resolution waits for Kafka's acknowledgement before the
    page answers 503."""
    dry_run_rows: int = Field(default=2000, ge=1, le=100_000)
    """Recent decided transactions a rule's dry run reads."""
    dry_run_budget_s: float = Field(default=10.0, gt=0)
    """A dry run stops after this long, saying how far it got."""

    overview_push_s: float = Field(default=5.0, ge=0.5, le=60)
    """How often the Overview's stream pushes its figures, chart and lag."""
    overview_lag_wait_s: float = Field(default=3.0, gt=0, le=30)
    """The longest wait for Kafka's answer for the lag (then the last one is shown, marked
    stale)."""

    backtest_max_days: float = Field(default=7, gt=0, le=92)
    """The longest range a backtest (``console/backtests.py``) may replay, in days."""
    backtest_concurrency: int = Field(default=1, ge=1, le=2)
    """Backtests running at once, each in a worker process."""
    backtest_budget_s: float = Field(default=600, gt=0)
    """A backtest's worker process is killed after this long."""
    backtest_warmup: str = "30d5m"
    """How long before the range each partition is read to warm the features (replay's
    default: the longest window plus lateness; `0` or `all` as ``sentinel replay``)."""

    maker_checker: bool = False
    """Maker-checker: a rule change made in the console waits for a second analyst."""

    chain_check_entries: int = Field(default=1000, ge=1)
    """An account page verifies at most this many of the newest entries of its hash chain."""
    dead_letters_per_partition: int = Field(default=200, ge=1, le=5_000)
    """The dead letters page reads at most this many of the newest records per partition."""

    model_registry: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SENTINEL_CONSOLE_MODEL_REGISTRY", "SENTINEL_AGENTS_MODEL_REGISTRY", "model_registry"
        ),
    )
    """The model registry folder the Models page reads: the console's own variable, else the
    one the agents read (so a console beside the agents needs nothing more); unset: the
    Models page says so. An admin's promotion rewrites its `CURRENT`, as `sentinel models
    promote` does."""

    postgres: PostgresConnection = Field(default_factory=PostgresConnection)
    redis: RedisConnection = Field(default_factory=RedisConnection)
    kafka: KafkaConnection = Field(default_factory=KafkaConnection)

    def cookies_secure(self) -> bool:
        return (
            self.secure_cookies if self.secure_cookies is not None else not is_loopback(self.host)
        )

    def refuse_default_secrets(self) -> None:
        """Raise DefaultSecretError before listening if a shipped password is in use while
        the database, Redis or the bind address is not loopback."""
        refuse_default_secrets(self.kafka, self.postgres, self.redis, bind_hosts=[self.host])
