"""Settings of the analyst console (``SENTINEL_CONSOLE_*``), built once at the entry point."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.secrets import is_loopback, refuse_default_secrets


class ConsoleSettings(BaseSettings):
    """Everything the console process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_CONSOLE_", frozen=True, extra="ignore")

    # Its own port, never the API's: see docs/adr/0006-console-as-its-own-service.md.
    host: str = "127.0.0.1"
    port: int = 8100
    # Cookies carry Secure unless the console listens on loopback only (plain http there).
    # None: decided from host; set true behind a TLS-terminating proxy on loopback.
    secure_cookies: bool | None = None

    # A session ends after this long without a request, and this long after sign-in at most.
    session_idle_s: int = Field(default=30 * 60, ge=30)
    session_absolute_s: int = Field(default=12 * 60 * 60, ge=60)
    # Lock-out: this many failed sign-ins within the window, for one user name or one
    # client address, refuse every further sign-in of it until the window slides past.
    lockout_user_failures: int = Field(default=5, ge=1)
    lockout_address_failures: int = Field(default=20, ge=1)
    lockout_window_s: int = Field(default=15 * 60, ge=1)
    # Prefix of every Redis key the console writes (sessions, lock-out counters).
    redis_prefix: str = "console"
    # Connections the console may hold: few, its pages are not the hot path.
    pool_max: int = Field(default=4, ge=1)
    # The review queue: a case older than this is past its SLA (three quarters: nearly);
    # a claim lapses after this long unless renewed; after publishing a resolution the
    # page waits this long for the reviews sink to apply it before saying it is pending.
    review_sla_minutes: int = Field(default=60, ge=1)
    review_claim_s: int = Field(default=15 * 60, ge=30)
    resolve_wait_s: float = Field(default=5.0, ge=0)

    # A rule's save or a resolution waits this long for Kafka's acknowledgement (then 503);
    # a dry run reads this many recent decided transactions and stops after this many
    # seconds, saying how far it got.
    produce_timeout_ms: int = Field(default=5000, ge=100)
    dry_run_rows: int = Field(default=2000, ge=1, le=100_000)
    dry_run_budget_s: float = Field(default=10.0, gt=0)

    # The Overview's stream pushes its figures, chart and lag this often; Kafka's answer for
    # the lag is awaited this long at most (then the last one is shown, marked stale).
    overview_push_s: float = Field(default=5.0, ge=0.5, le=60)
    overview_lag_wait_s: float = Field(default=3.0, gt=0, le=30)

    # Backtests (``console/backtests.py``): a range of at most this many days, replayed in
    # a worker process (at most this many at once) that is killed after the budget; each
    # partition is read from this long before the range to warm the features (replay's
    # default: the longest window plus lateness; "0" or "all" as ``sentinel replay``).
    backtest_max_days: float = Field(default=7, gt=0, le=92)
    backtest_concurrency: int = Field(default=1, ge=1, le=2)
    backtest_budget_s: float = Field(default=600, gt=0)
    backtest_warmup: str = "30d5m"

    # Maker-checker: a rule change made in the console waits for a second analyst.
    maker_checker: bool = False

    # An account page verifies at most this many of the newest entries of its hash chain.
    chain_check_entries: int = Field(default=1000, ge=1)
    # The dead letters page reads at most this many of the newest records per partition.
    dead_letters_per_partition: int = Field(default=200, ge=1, le=5_000)

    # The model registry folder: the console's own variable, else the one the agents read
    # (so a console beside the agents needs nothing more); None: the Models page says so.
    # Promoting writes its CURRENT, as `sentinel models promote` does.
    model_registry: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SENTINEL_CONSOLE_MODEL_REGISTRY", "SENTINEL_AGENTS_MODEL_REGISTRY", "model_registry"
        ),
    )

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
