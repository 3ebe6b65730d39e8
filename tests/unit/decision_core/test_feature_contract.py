"""The feature engine computes exactly the contract's feature names, in column order."""

from __future__ import annotations

from decision_core.features import WINDOWS, AccountFeatures, FeatureEvent
from schemas.features import FEATURE_NAMES, WINDOW_NAMES


def test_engine_output_is_the_contract() -> None:
    event = FeatureEvent(
        event_id="t1", ts_ms=1_764_500_000_000, amount_minor=4250, merchant_id="m", country="IN"
    )
    assert tuple(AccountFeatures().observe(event).features) == FEATURE_NAMES
    assert tuple(name for name, _ in WINDOWS) == WINDOW_NAMES
