"""The names of the per-account features, in model column order: a contract.

Decisions record feature values under these names, model artifacts list them as their
columns, and analysts' rules read them; ``stream_agents.features`` computes exactly these
(a test holds it to that). Renaming one is a breaking change for all three.
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
