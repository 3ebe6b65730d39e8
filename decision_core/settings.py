"""The decision's settings, shared by the agents and replay: models, thresholds, breaker."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DecisionSettings(BaseSettings):
    """The model registry, threshold overrides and breaker (``SENTINEL_AGENTS_*``): the
    agents' settings extend it (``AgentSettings``), replay reads it to decide as they do."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_AGENTS_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    model_registry: Path | None = None
    """The model registry folder the announced versions are loaded from (docs/model.md).
    Unset: rules only."""
    review_at: float | None = Field(default=None, ge=0, le=1)
    """Explicit override of the score from which a transaction is reviewed. Unset: the
    champion card's threshold, else 0.5."""
    decline_at: float | None = Field(default=None, ge=0, le=1)
    """Explicit override of the score from which a transaction is declined. Unset: the
    champion card's threshold, else 0.9."""
    breaker_max_share: float = Field(default=0.05, gt=0, le=1)
    """Decline circuit breaker: the largest share of the decisions in its sliding window one
    rule may decline (docs/adr/0003-decline-circuit-breaker.md)."""
    breaker_window_events: int = Field(default=10_000, ge=1)
    """The decline breaker's sliding window, in events."""
    breaker_min_volume: int = Field(default=100, ge=1)
    """Events the decline breaker must have seen before it may trip."""
