"""Per-account fraud features over exact event-time sliding windows (pure, no I/O)."""

from decision_core.features.codec import StateDecodeError, decode_state, encode_state
from decision_core.features.compute import (
    AccountFeatures,
    Observation,
    compute_features,
    haversine_km,
    replay_account,
)
from decision_core.features.event import FeatureEvent, HomeProfile
from decision_core.features.windows import (
    DEFAULT_CONFIG,
    WINDOWS,
    AccountWindows,
    FeatureConfig,
)
from schemas.features import FEATURE_NAMES

__all__ = [
    "DEFAULT_CONFIG",
    "FEATURE_NAMES",
    "WINDOWS",
    "AccountFeatures",
    "AccountWindows",
    "FeatureConfig",
    "FeatureEvent",
    "HomeProfile",
    "Observation",
    "StateDecodeError",
    "compute_features",
    "decode_state",
    "encode_state",
    "haversine_km",
    "replay_account",
]
