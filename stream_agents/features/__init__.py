"""Per-account fraud features over exact event-time sliding windows (pure, no I/O)."""

from schemas.features import FEATURE_NAMES
from stream_agents.features.codec import StateDecodeError, decode_state, encode_state
from stream_agents.features.compute import (
    AccountFeatures,
    Observation,
    compute_features,
    haversine_km,
    replay_account,
)
from stream_agents.features.event import FeatureEvent, HomeProfile
from stream_agents.features.windows import (
    DEFAULT_CONFIG,
    WINDOWS,
    AccountWindows,
    FeatureConfig,
)

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
