"""What the feature code sees of one window: sorted columns, a row range and its tally."""

from collections import Counter
from collections.abc import Sequence
from math import isfinite
from typing import Final, NamedTuple

# Locations are kept in integer microdegrees (~0.1 m): exact, order-independent sums for
# the learned home, and short in the serialised state.
MICRO: Final = 1_000_000


def micro_location(lat: float | None, lon: float | None) -> tuple[int, int] | None:
    """A location in microdegrees, or None unless both coordinates are finite numbers."""
    if lat is None or lon is None or not (isfinite(lat) and isfinite(lon)):
        return None
    return round(lat * MICRO), round(lon * MICRO)


class Tally(NamedTuple):
    """Country counts and location sums (microdegrees) of a set of events."""

    countries: dict[str, int]  # may hold zero counts
    located: int
    lat_sum: int
    lon_sum: int


def tally(
    countries: Sequence[str], lats: Sequence[int | None], lons: Sequence[int | None]
) -> Tally:
    # Built-ins only: Counter, count and sum(filter()) run in C (filter drops zeros too,
    # which add nothing). Most accounts pay in one country: counted without a Counter.
    one = bool(countries) and countries.count(countries[0]) == len(countries)
    return Tally(
        {countries[0]: len(countries)} if one else dict(Counter(countries)),
        len(lats) - lats.count(None),
        sum(filter(None, lats)),
        sum(filter(None, lons)),
    )


class WindowView(NamedTuple):
    """The 30-day window of one event, without it: columns sorted by key, rows [lo, hi)."""

    tally: Tally  # of rows [lo, hi)
    ts: Sequence[int]
    amounts: Sequence[int]
    merchants: Sequence[str]
    countries: Sequence[str]
    lats: Sequence[int | None]  # microdegrees; both None when the event has no location
    lons: Sequence[int | None]
    lo: int
    hi: int
