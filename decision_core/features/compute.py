"""Per-account feature vector: the one definition used live, in training and in replay.

Every windowed feature uses the window edge of ``windows`` (``t - W < ts <= t``, current
event included). Unknown values are NaN, which XGBoost routes natively:

- ``count_W``, ``sum_W``, ``mean_W``: the window with the current event; sums and means are
  exact integer minor-unit sums, divided once into major units (``minor_per_major``).
- ``distinct_merchants_24h``, ``distinct_countries_24h``: with the current event.
- ``secs_since_prev``: since the latest other event of the 30-day window (ties at the same
  millisecond give 0); NaN when the account has none in the last 30 days.
- ``amount_to_mean_30d``: amount over the mean of the 30-day window WITHOUT the current
  event; NaN when that window is empty or its mean is 0.
- ``amount_to_median_30d``: amount over the median of the same window (the mean of the two
  middle amounts for an even count); NaN when that window is empty or its median is 0.
  Unlike the mean, a few large frauds on a compromised card barely move the median, so
  the card's next fraudulent amounts still stand out.
- ``new_country``, ``new_device``, ``new_merchant``: 1.0 when not in the first-seen memory
  (see ``windows``), else 0.0; ``new_device`` is NaN for an event without a device id.
- home: the profile's country and coordinates where given, else the learned ones from the
  30-day window without the current event: the most frequent country (ties: the one seen
  most recently) and the exact mean latitude and longitude of located events (a plain
  mean: wrong for accounts straddling the antimeridian). ``home_distance_km`` (haversine,
  NaN without both locations), ``is_home_country`` (NaN without a home country).
  Every location (events, profile) is first rounded to the microdegree (``MICRO``).
- ``travel_speed_kmh``: great-circle distance from the previous event (as for
  ``secs_since_prev``) over the time since it; NaN without both locations or at zero time.
- ``hour_of_day``, ``is_night`` (hour in [0, 6)), ``is_weekend`` (Saturday, Sunday): in
  the configured time zone, UTC by default.
- ``amount``: the current amount in major units.
"""

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from math import asin, cos, nan, radians, sin, sqrt
from typing import Final

from decision_core.features.codec import decode_state, encode_state
from decision_core.features.event import FeatureEvent, HomeProfile
from decision_core.features.view import MICRO, WindowView, micro_location
from decision_core.features.windows import (
    DAY_MS,
    DEFAULT_CONFIG,
    HOUR_MS,
    NEW_COUNTRY,
    NEW_DEVICE,
    NEW_MERCHANT,
    NO_DEVICE,
    WINDOWS,
    AccountWindows,
    FeatureConfig,
)
from schemas.features import FEATURE_NAMES

EARTH_RADIUS_KM: Final = 6371.0088  # IUGG mean radius
_Location = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Observation:
    """Features of one event (ordered as ``FEATURE_NAMES``) and how the state treated it."""

    features: dict[str, float]
    late: bool = False  # scored, but too old to enter the windows
    duplicate: bool = False  # a redelivered id: scored as first seen, not counted again
    # The home country the features compared with (the profile's, else the learned one),
    # for the rules: computed once, from the same window, so a redelivery sees the same.
    home_country: str | None = None

    def vector(self) -> list[float]:
        return list(self.features.values())


def haversine_km(a: _Location, b: _Location) -> float:
    """Great-circle distance between two (lat, lon) points in degrees."""
    lat1, lat2 = radians(a[0]), radians(b[0])
    h = sin((lat2 - lat1) / 2) ** 2 + cos(lat1) * cos(lat2) * sin(radians(b[1] - a[1]) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def compute_features(
    view: WindowView,
    event: FeatureEvent,
    flags: int,
    profile: HomeProfile | None,
    config: FeatureConfig,
) -> dict[str, float]:
    """All features of ``event`` given its window (without it) and first-seen ``flags``."""
    return _compute(view, event, flags, profile, config)[0]


def _compute(
    view: WindowView,
    event: FeatureEvent,
    flags: int,
    profile: HomeProfile | None,
    config: FeatureConfig,
) -> tuple[dict[str, float], str | None]:
    """The features and the home country they compared the event's country with."""
    scale = config.minor_per_major
    here = _location(event.lat, event.lon)
    values = _window_stats(view, event, scale)
    since_prev, speed = _previous(view, event.ts_ms, here)
    values += (
        since_prev,
        _amount_ratio(view, event.amount_minor),
        float(flags & NEW_COUNTRY == NEW_COUNTRY),
        nan if flags & NO_DEVICE else float(flags & NEW_DEVICE == NEW_DEVICE),
        float(flags & NEW_MERCHANT == NEW_MERCHANT),
    )
    distance, is_home, home_country = _home(view, event.country, here, profile)
    values += (distance, is_home, speed)
    values += _calendar(event.ts_ms, config)
    values.append(event.amount_minor / scale)
    values.append(_median_ratio(view, event.amount_minor))
    return dict(zip(FEATURE_NAMES, values, strict=True)), home_country


def _window_stats(view: WindowView, event: FeatureEvent, scale: int) -> list[float]:
    ts, amounts, hi, t, amount = view.ts, view.amounts, view.hi, event.ts_ms, event.amount_minor
    values: list[float] = []
    for _, width in WINDOWS:
        start = bisect_right(ts, t - width, view.lo, hi)
        count = hi - start + 1
        total = sum(amounts[start:hi], amount)
        values += (float(count), total / scale, total / (count * scale))
    start = bisect_right(ts, t - DAY_MS, view.lo, hi)
    merchants = set(view.merchants[start:hi])
    merchants.add(event.merchant_id)
    countries = set(view.countries[start:hi])
    countries.add(event.country)
    values += (float(len(merchants)), float(len(countries)))
    return values


def _location(lat: float | None, lon: float | None) -> _Location | None:
    """A location in degrees at the resolution the state keeps."""
    micro = micro_location(lat, lon)
    return None if micro is None else (micro[0] / MICRO, micro[1] / MICRO)


def _previous(view: WindowView, ts_ms: int, here: _Location | None) -> tuple[float, float]:
    """Seconds since the previous event and the speed needed to travel from it."""
    if view.hi == view.lo:
        return nan, nan
    row = view.hi - 1
    elapsed_ms = ts_ms - view.ts[row]
    lat, lon = view.lats[row], view.lons[row]
    if elapsed_ms == 0 or here is None or lat is None or lon is None:
        return elapsed_ms / 1000, nan
    there = (lat / MICRO, lon / MICRO)
    return elapsed_ms / 1000, haversine_km(there, here) * HOUR_MS / elapsed_ms


def _amount_ratio(view: WindowView, amount: int) -> float:
    count = view.hi - view.lo
    total = sum(view.amounts[view.lo : view.hi])
    return amount * count / total if count and total else nan


def _median_ratio(view: WindowView, amount: int) -> float:
    amounts = sorted(view.amounts[view.lo : view.hi])
    n = len(amounts)
    if not n:
        return nan
    # Twice the median is an exact integer: one correctly rounded division.
    twice = 2 * amounts[n // 2] if n % 2 else amounts[n // 2 - 1] + amounts[n // 2]
    return 2 * amount / twice if twice else nan


def _home(
    view: WindowView, country_here: str, here: _Location | None, profile: HomeProfile | None
) -> tuple[float, float, str | None]:
    """Distance from home, whether the event is in the home country, and that country."""
    country = profile.home_country if profile else None
    centre = _location(profile.home_lat, profile.home_lon) if profile else None
    if country is None:
        country = _learned_country(view)
    if centre is None:
        centre = _learned_centre(view)
    distance = nan if here is None or centre is None else haversine_km(centre, here)
    is_home = nan if country is None else float(country_here == country)
    return distance, is_home, country


def _learned_country(view: WindowView) -> str | None:
    counts = view.tally.countries
    top = max(counts.values(), default=0)
    if not top:
        return None
    tied = {country for country, n in counts.items() if n == top}
    if len(tied) == 1:
        return tied.pop()
    countries = view.countries
    return next(countries[i] for i in range(view.hi - 1, view.lo - 1, -1) if countries[i] in tied)


def _learned_centre(view: WindowView) -> _Location | None:
    located, lat_sum, lon_sum = view.tally[1:]
    if not located:
        return None
    # Exact integer sums, one correctly rounded division: no dependence on event order.
    return lat_sum / (located * MICRO), lon_sum / (located * MICRO)


def _calendar(ts_ms: int, config: FeatureConfig) -> tuple[float, float, float]:
    if config.tz is UTC:
        # Exact, and about half the cost of building a datetime (measured).
        hour = ts_ms // HOUR_MS % 24
        weekday = (ts_ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    else:
        local = datetime.fromtimestamp(ts_ms // 1000, config.tz)
        hour, weekday = local.hour, local.weekday()
    return float(hour), float(hour < 6), float(weekday >= 5)


class AccountFeatures:
    """One account's feature state and the calls the stream agent makes for each event.

    In the agent, per record at ``partition``/``offset``: ``observe_at`` applies the event
    once and only peeks when the record was already applied (a redelivery after a crash).
    """

    __slots__ = ("state",)

    def __init__(
        self, config: FeatureConfig | None = None, *, state: AccountWindows | None = None
    ) -> None:
        self.state = state if state is not None else AccountWindows(config or DEFAULT_CONFIG)

    @property
    def applied_offsets(self) -> dict[int, int]:
        return self.state.applied_offsets

    def observe(self, event: FeatureEvent, profile: HomeProfile | None = None) -> Observation:
        """Score ``event``, then add it to the windows unless it is late or a duplicate."""
        observation, flags = self._score(event, profile)
        if not (observation.late or observation.duplicate):
            self.state.insert(event, flags)
        return observation

    def peek(self, event: FeatureEvent, profile: HomeProfile | None = None) -> Observation:
        """Score ``event`` exactly as ``observe`` would, changing nothing."""
        return self._score(event, profile)[0]

    def observe_at(
        self, event: FeatureEvent, partition: int, offset: int, profile: HomeProfile | None = None
    ) -> Observation:
        """``observe`` once per source record; ``peek`` when the record was already applied."""
        if not self.state.should_apply(partition, offset):
            return self.peek(event, profile)
        observation = self.observe(event, profile)
        self.state.mark_applied(partition, offset)
        return observation

    def apply_at(self, event: FeatureEvent, partition: int, offset: int) -> None:
        """What ``observe_at`` does to the state, without computing features: replay's
        warm-up, where the features of the events before the range are never used."""
        state = self.state
        if not state.should_apply(partition, offset):
            return
        if state.index_of(event.event_id) is None and not state.is_late(event.ts_ms):
            state.insert(event, state.first_seen_flags(event))
        state.mark_applied(partition, offset)

    def home_country(self, ts_ms: int, profile: HomeProfile | None = None) -> str | None:
        """The home country rules compare with: the profile's, else the learned one (the
        most frequent country of the 30 days before ``ts_ms``); None when unknown.

        Call it before ``observe`` so that, as for the features, the event being scored
        does not vote for its own country.
        """
        if profile is not None and profile.home_country:
            return profile.home_country
        return _learned_country(self.state.view(ts_ms))

    def should_apply(self, partition: int, offset: int) -> bool:
        return self.state.should_apply(partition, offset)

    def mark_applied(self, partition: int, offset: int) -> None:
        self.state.mark_applied(partition, offset)

    def to_bytes(self) -> bytes:
        """The state for the changelog (see ``codec``); ``from_bytes`` restores it exactly."""
        return encode_state(self.state)

    @classmethod
    def from_bytes(cls, data: bytes, config: FeatureConfig | None = None) -> "AccountFeatures":
        """Raises ``StateDecodeError`` for bytes that ``to_bytes`` did not produce."""
        return cls(state=decode_state(data, config or DEFAULT_CONFIG))

    def _score(self, event: FeatureEvent, profile: HomeProfile | None) -> tuple[Observation, int]:
        state = self.state
        row = state.index_of(event.event_id)
        if row is not None:
            flags = state.flags[row]
            features, home = _compute(
                state.view_as_of(row), state.stored_event(row), flags, profile, state.config
            )
            return Observation(features, duplicate=True, home_country=home), flags
        flags = state.first_seen_flags(event)
        features, home = _compute(state.view(event.ts_ms), event, flags, profile, state.config)
        late = state.is_late(event.ts_ms)
        return Observation(features, late=late, home_country=home), flags


def replay_account(
    events: Iterable[FeatureEvent],
    config: FeatureConfig | None = None,
    profile: HomeProfile | None = None,
) -> Iterator[Observation]:
    """Replay one account's events in arrival order, as the live agent would score them."""
    account = AccountFeatures(config)
    for event in events:
        yield account.observe(event, profile)
