"""The feature engine's inputs: one transaction (`FeatureEvent`) and an optional home profile."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeatureEvent:
    """One card transaction, reduced to what the per-account features need.

    ``ts_ms`` is event time in epoch milliseconds UTC. ``amount_minor`` counts minor units
    (cents) as an integer so that window sums are exact; money is never a float here.
    A location is used only when both ``lat`` and ``lon`` are finite numbers.
    """

    event_id: str
    ts_ms: int
    amount_minor: int
    merchant_id: str
    country: str
    device_id: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class HomeProfile:
    """An account's declared home (from the ``accounts`` topic); overrides the learned one.

    Each part overrides separately: a profile with a country but no coordinates still
    measures distance from the learned centroid.
    """

    home_country: str | None = None
    home_lat: float | None = None
    home_lon: float | None = None
