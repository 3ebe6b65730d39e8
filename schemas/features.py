"""The names of the features, in model column order: a contract.

Decisions record feature values under these names, model artifacts list them as their
columns, and analysts' rules read them. ``FEATURE_NAMES`` are the per-account features
``decision_core.features`` computes per event (a test holds it to that);
``MERCHANT_FEATURE_NAMES`` are the merchant-risk features the hourly job publishes and the
agents add before scoring (``decision_core.features.merchant``). ``LIVE_FEATURE_NAMES``, both
together, is what a live model may read. Renaming one is a breaking change for all three,
and so is reordering or removing one: a decision (v4) records the values by position
(``feature_values``); a name is only ever appended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

WINDOW_NAMES: Final = ("1h", "24h", "7d", "30d")

FEATURE_NAMES: Final[tuple[str, ...]] = (
    *(f"{stat}_{window}" for window in WINDOW_NAMES for stat in ("count", "sum", "mean")),
    "distinct_merchants_24h",
    "distinct_countries_24h",
    "secs_since_prev",
    "amount_to_mean_30d",
    "new_country",
    "new_device",
    "new_merchant",
    "home_distance_km",
    "is_home_country",
    "travel_speed_kmh",
    "hour_of_day",
    "is_night",
    "is_weekend",
    "amount",
    "amount_to_median_30d",
)

MERCHANT_WINDOW_DAYS: Final = (1, 7, 30)

# Two sets over the same windows: the ``w`` days ending a week before the hour (labels given
# the week's delay to arrive), and the ``w`` days ending at the hour with the labels that
# have arrived by then ("recent": issue 21; appended, so decisions' positions hold).
MERCHANT_FEATURE_NAMES: Final[tuple[str, ...]] = tuple(
    f"merchant_{prefix}{kind}_{days}d"
    for prefix in ("", "recent_")
    for days in MERCHANT_WINDOW_DAYS
    for kind in ("tx", "risk")
)

LIVE_FEATURE_NAMES: Final[tuple[str, ...]] = (*FEATURE_NAMES, *MERCHANT_FEATURE_NAMES)

# Where each listed name sits in a decision's ``feature_values`` (decision v4). The list is
# append-only for this reason too: a record's values are read by position.
_POSITION: Final = {name: i for i, name in enumerate(LIVE_FEATURE_NAMES)}


def feature_values(features: Mapping[str, float]) -> tuple[list[float], dict[str, float]]:
    """A decision's features as its record carries them: the listed ones as values in
    ``LIVE_FEATURE_NAMES`` order (NaN where there is none), any other name apart.

    Positional values instead of a 36-entry name -> value map: a third of the Decision
    record's bytes and the largest part of encoding it went to repeating the names."""
    values = [features.get(name, math.nan) for name in LIVE_FEATURE_NAMES]
    others = {name: v for name, v in features.items() if name not in _POSITION}
    return values, others


def named_features(values: Sequence[float], others: Mapping[str, float]) -> dict[str, float]:
    """Inverse of ``feature_values``: NaN reads as no value, values past the names this
    version knows (a newer writer's) are left out."""
    # Not strict: either side may be longer (an older writer's values, a newer one's).
    pairs = zip(LIVE_FEATURE_NAMES, values, strict=False)
    named = {name: v for name, v in pairs if not math.isnan(v)}
    named.update(others)
    return named
