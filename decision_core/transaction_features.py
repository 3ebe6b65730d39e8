"""The bridge from the Transaction contract to the feature engine, shared by live, training
and replay so that all three compute features from the same inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from decision_core.features import FeatureConfig, FeatureEvent, HomeProfile
from schemas.records import AccountProfile, Transaction

# Amounts carry at most four decimals (decimal(18,4) in the contract), so counting in
# ten-thousandths keeps every window sum exact whatever the currency's own minor unit.
AMOUNT_SCALE = 10_000
FEATURE_CONFIG = FeatureConfig(minor_per_major=AMOUNT_SCALE)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def feature_event(tx: Transaction) -> FeatureEvent:
    return FeatureEvent(
        event_id=tx.transaction_id,
        ts_ms=(tx.timestamp - EPOCH) // timedelta(milliseconds=1),
        amount_minor=int(tx.amount * AMOUNT_SCALE),
        merchant_id=tx.merchant_id,
        country=tx.country,
        device_id=tx.device_id,
        lat=tx.lat,
        lon=tx.lon,
    )


def home_profile(profile: AccountProfile | None) -> HomeProfile | None:
    if profile is None:
        return None
    return HomeProfile(profile.home_country, profile.home_lat, profile.home_lon)
