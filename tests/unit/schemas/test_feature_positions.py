"""Decisions (v4) carry feature values by position in ``LIVE_FEATURE_NAMES``: records on the
topics and in ledgers are read with today's list, so it may only ever grow at its end."""

from __future__ import annotations

from schemas.features import FEATURE_NAMES, LIVE_FEATURE_NAMES

# The list when decision v4 was introduced. Never edit these; a new feature is appended to
# LIVE_FEATURE_NAMES after them (not inserted into FEATURE_NAMES ahead of the merchant ones).
AT_DECISION_V4 = (
    "count_1h", "sum_1h", "mean_1h", "count_24h", "sum_24h", "mean_24h", "count_7d", "sum_7d",
    "mean_7d", "count_30d", "sum_30d", "mean_30d", "distinct_merchants_24h",
    "distinct_countries_24h", "secs_since_prev", "amount_to_mean_30d", "new_country",
    "new_device", "new_merchant", "home_distance_km", "is_home_country", "travel_speed_kmh",
    "hour_of_day", "is_night", "is_weekend", "amount", "amount_to_median_30d",
    "merchant_tx_1d", "merchant_risk_1d", "merchant_tx_7d", "merchant_risk_7d",
    "merchant_tx_30d", "merchant_risk_30d",
)  # fmt: skip


def test_the_positional_names_only_grow_at_their_end() -> None:
    assert LIVE_FEATURE_NAMES[: len(AT_DECISION_V4)] == AT_DECISION_V4


def test_every_computed_feature_has_a_position() -> None:
    assert set(FEATURE_NAMES) <= set(LIVE_FEATURE_NAMES)
    assert len(set(LIVE_FEATURE_NAMES)) == len(LIVE_FEATURE_NAMES)
