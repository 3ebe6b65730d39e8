"""A decision's score thresholds: the environment's, else the champion card's, else 0.5/0.9."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from rule_engine import Thresholds

DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class ThresholdOverrides:
    """Thresholds set explicitly in the environment; None leaves the card's (or default)."""

    review_at: float | None = None
    decline_at: float | None = None


NO_OVERRIDES: Final = ThresholdOverrides()


def card_thresholds(card: Mapping[str, Any] | None) -> Thresholds | None:
    """The thresholds training chose and wrote into the card, or None if it has none usable."""
    chosen = (card or {}).get("thresholds")
    if not isinstance(chosen, Mapping):
        return None
    try:
        return Thresholds(float(chosen["review_at"]), float(chosen["decline_at"]))
    except (KeyError, TypeError, ValueError):
        return None


def select_thresholds(
    card: Mapping[str, Any] | None, overrides: ThresholdOverrides = NO_OVERRIDES
) -> tuple[Thresholds, str]:
    """The thresholds to decide with and where they came from.

    Each threshold: the environment's when set, else the champion card's, else the default
    (0.5, 0.9). A mix that would put declines below reviews raises ``decline_at`` to
    ``review_at``, as training does.
    """
    base = card_thresholds(card)
    source = "card" if base is not None else "default"
    base = base or DEFAULT_THRESHOLDS
    review = base.review_at if overrides.review_at is None else overrides.review_at
    decline = base.decline_at if overrides.decline_at is None else overrides.decline_at
    if overrides.review_at is not None or overrides.decline_at is not None:
        both = overrides.review_at is not None and overrides.decline_at is not None
        source = "environment" if both or source == "default" else f"{source}+environment"
    return Thresholds(review, max(review, decline)), source
