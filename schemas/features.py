"""The names of the features, in model column order: a contract.

Decisions record feature values under these names, model artifacts list them as their
columns, and analysts' rules read them. ``FEATURE_NAMES`` are the per-account features
``decision_core.features`` computes per event (a test holds it to that);
``MERCHANT_FEATURE_NAMES`` are the merchant-risk features the hourly job publishes and the
agents add before scoring (``decision_core.features.merchant``). ``LIVE_FEATURE_NAMES``, both
together, is what a live model may read. Renaming one is a breaking change for all three.
"""

from __future__ import annotations

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

MERCHANT_FEATURE_NAMES: Final[tuple[str, ...]] = tuple(
    f"merchant_{kind}_{days}d" for days in MERCHANT_WINDOW_DAYS for kind in ("tx", "risk")
)

LIVE_FEATURE_NAMES: Final[tuple[str, ...]] = (*FEATURE_NAMES, *MERCHANT_FEATURE_NAMES)
