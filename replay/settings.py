"""Settings of ``sentinel replay`` (``SENTINEL_REPLAY_*``), built once at the entry point.

Thresholds, the model registry and the decline breaker default to the agents' own settings
(``SENTINEL_AGENTS_*``), so a replay without options decides as the agents would.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from decision_core.settings import DecisionSettings
from decision_core.thresholds import ThresholdOverrides
from rule_engine import BreakerConfig
from schemas.connections import KafkaConnection, PostgresConnection


class ReplaySettings(BaseSettings):
    """Batch sizes, worker processes and how long to wait for the reference topics."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_REPLAY_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    batch_size: int = Field(default=2000, ge=1)
    """Records per consume call and per DecisionPipeline.decide call."""
    lookup_batch: int = Field(default=5000, ge=1)
    """Transactions per ledger look-up (one query each)."""
    workers: int = Field(default=0, ge=0)
    """Worker processes; 0: one per core for a large replay, this process for a small one."""
    examples: int = Field(default=5, ge=0)
    """Changed transactions shown per (live, replay) outcome pair in the report."""
    reference_timeout_s: float = 60.0
    """How long to wait to load the rules, lists and profiles published so far."""

    kafka: KafkaConnection = Field(default_factory=KafkaConnection)
    postgres: PostgresConnection = Field(default_factory=PostgresConnection)


def agents_thresholds(
    agents: DecisionSettings, review: float | None = None, decline: float | None = None
) -> ThresholdOverrides:
    """``review``/``decline``, else the agents' environment overrides; unset: the card's."""
    return ThresholdOverrides(
        agents.review_at if review is None else review,
        agents.decline_at if decline is None else decline,
    )


def agents_breaker(agents: DecisionSettings) -> BreakerConfig:
    """The decline circuit breaker as the agents configure it."""
    return BreakerConfig(
        max_share=agents.breaker_max_share,
        min_volume=agents.breaker_min_volume,
        window_events=agents.breaker_window_events,
    )
