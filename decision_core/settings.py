"""The decision's settings, shared by the agents and replay: models, thresholds, breaker."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DecisionSettings(BaseSettings):
    """The model registry, threshold overrides and breaker (``SENTINEL_AGENTS_*``): the
    agents' settings extend it (``AgentSettings``), replay reads it to decide as they do."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_AGENTS_", frozen=True, extra="ignore")

    model_registry: Path | None = None
    # Explicit overrides of the champion card's thresholds (unset: the card's, or 0.5/0.9).
    review_at: float | None = Field(default=None, ge=0, le=1)
    decline_at: float | None = Field(default=None, ge=0, le=1)
    # Decline circuit breaker: one rule may cause at most this share of the decisions in a
    # sliding window of this many events (once it has seen min_volume of them).
    breaker_max_share: float = Field(default=0.05, gt=0, le=1)
    breaker_window_events: int = Field(default=10_000, ge=1)
    breaker_min_volume: int = Field(default=100, ge=1)
