"""Incremental feature engine vs a brute-force reference over random event sequences."""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision_core.features import (
    FEATURE_NAMES,
    AccountFeatures,
    FeatureConfig,
    FeatureEvent,
    HomeProfile,
    Observation,
)

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WIDTHS = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
T0 = 1_700_000_000_000  # a Tuesday, 22:13 UTC
RADIUS_KM = 6371.0088


# --- the reference: every feature recomputed from the full history, by definition ---------


def loc(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """Both coordinates finite, rounded to the microdegree; else no location."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return round(lat * 1_000_000) / 1_000_000, round(lon * 1_000_000) / 1_000_000


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Chord between unit vectors, turned into an arc: independent of the haversine form."""

    def unit(lat: float, lon: float) -> tuple[float, float, float]:
        p, q = math.radians(lat), math.radians(lon)
        return (math.cos(p) * math.cos(q), math.cos(p) * math.sin(q), math.sin(p))

    chord = math.dist(unit(*a), unit(*b))
    return 2 * RADIUS_KM * math.asin(min(1.0, chord / 2))


@dataclass
class Reference:
    """Keeps every accepted event forever; recomputes everything on each call."""

    config: FeatureConfig
    accepted: list[tuple[int, FeatureEvent]] = field(default_factory=list)  # (arrival, event)

    def max_ts(self) -> int | None:
        return max((e.ts_ms for _, e in self.accepted), default=None)

    def retained(self) -> list[tuple[int, FeatureEvent]]:
        top = self.max_ts()
        if top is None:
            return []
        horizon = top - self.config.allowed_lateness_ms - 30 * DAY
        return [(s, e) for s, e in self.accepted if e.ts_ms > horizon]

    def seen(self, attr: str, before: int) -> set[str]:
        """The `max_seen` most recently seen distinct values among events arrived before."""
        recent: list[str] = []
        for s, e in reversed(self.accepted):
            value = getattr(e, attr)
            if s < before and value is not None and value not in recent:
                recent.append(value)
        return set(recent[: self.config.max_seen])

    def observe(self, event: FeatureEvent, profile: HomeProfile | None) -> Observation:
        original = [(s, e) for s, e in self.retained() if e.event_id == event.event_id]
        top = self.max_ts()
        if original:
            before, current = original[0]
            late, duplicate = False, True
        else:
            before, current, duplicate = len(self.accepted), event, False
            late = top is not None and event.ts_ms < top - self.config.allowed_lateness_ms
        others = [
            e
            for s, e in self.retained()
            if s < before and current.ts_ms - 30 * DAY < e.ts_ms <= current.ts_ms
        ]
        features = self.features(others, current, before, profile)
        if not (late or duplicate):
            self.accepted.append((len(self.accepted), event))
        return Observation(features, late=late, duplicate=duplicate)

    def features(
        self,
        others: list[FeatureEvent],
        cur: FeatureEvent,
        before: int,
        profile: HomeProfile | None,
    ) -> dict[str, float]:
        scale = self.config.minor_per_major
        out: dict[str, float] = {}
        for name, width in WIDTHS.items():
            amounts = [e.amount_minor for e in others if e.ts_ms > cur.ts_ms - width]
            amounts.append(cur.amount_minor)
            out[f"count_{name}"] = len(amounts)
            out[f"sum_{name}"] = sum(amounts) / scale
            out[f"mean_{name}"] = sum(amounts) / scale / len(amounts)
        day = [e for e in others if e.ts_ms > cur.ts_ms - DAY] + [cur]
        out["distinct_merchants_24h"] = len({e.merchant_id for e in day})
        out["distinct_countries_24h"] = len({e.country for e in day})
        ordered = sorted(others, key=lambda e: (e.ts_ms, e.event_id))
        prev = ordered[-1] if ordered else None
        out["secs_since_prev"] = (cur.ts_ms - prev.ts_ms) / 1000 if prev else math.nan
        previous_mean = sum(e.amount_minor for e in others) / len(others) if others else 0
        out["amount_to_mean_30d"] = cur.amount_minor / previous_mean if previous_mean else math.nan
        out.update(self.first_seen(cur, before))
        out.update(home_features(ordered, cur, profile))
        out["travel_speed_kmh"] = travel_speed(prev, cur)
        out.update(calendar(cur.ts_ms, self.config))
        out["amount"] = cur.amount_minor / scale
        median = statistics.median(e.amount_minor for e in others) if others else 0
        out["amount_to_median_30d"] = cur.amount_minor / median if median else math.nan
        return out

    def first_seen(self, cur: FeatureEvent, before: int) -> dict[str, float]:
        device = math.nan
        if cur.device_id is not None:
            device = float(cur.device_id not in self.seen("device_id", before))
        return {
            "new_country": float(cur.country not in self.seen("country", before)),
            "new_device": device,
            "new_merchant": float(cur.merchant_id not in self.seen("merchant_id", before)),
        }


def home_features(
    ordered: list[FeatureEvent], cur: FeatureEvent, profile: HomeProfile | None
) -> dict[str, float]:
    country = profile.home_country if profile else None
    if country is None and ordered:
        last_row = {e.country: i for i, e in enumerate(ordered)}
        country = max(last_row, key=lambda c: (sum(e.country == c for e in ordered), last_row[c]))
    centre = loc(profile.home_lat, profile.home_lon) if profile else None
    spots = [spot for e in ordered if (spot := loc(e.lat, e.lon))]
    if centre is None and spots:
        centre = (
            math.fsum(p[0] for p in spots) / len(spots),
            math.fsum(p[1] for p in spots) / len(spots),
        )
    here = loc(cur.lat, cur.lon)
    return {
        "home_distance_km": distance_km(centre, here) if centre and here else math.nan,
        "is_home_country": float(cur.country == country) if country is not None else math.nan,
    }


def travel_speed(prev: FeatureEvent | None, cur: FeatureEvent) -> float:
    if prev is None or prev.ts_ms == cur.ts_ms:
        return math.nan
    there, here = loc(prev.lat, prev.lon), loc(cur.lat, cur.lon)
    if there is None or here is None:
        return math.nan
    return distance_km(there, here) / ((cur.ts_ms - prev.ts_ms) / HOUR)


def calendar(ts_ms: int, config: FeatureConfig) -> dict[str, float]:
    local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)).astimezone(config.tz)
    return {
        "hour_of_day": local.hour,
        "is_night": float(local.hour < 6),
        "is_weekend": float(local.isoweekday() in (6, 7)),
    }


# --- comparison helpers ---------------------------------------------------------------------


def same(a: float, b: float) -> bool:
    """Bit-for-bit equal, NaN equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) or a == b


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def assert_vectors(got: Observation, want: Observation, *, exact: bool) -> None:
    assert tuple(got.features) == FEATURE_NAMES
    assert (got.late, got.duplicate) == (want.late, want.duplicate)
    check = same if exact else close
    bad = {
        name: (got.features[name], want.features[name])
        for name in FEATURE_NAMES
        if not check(got.features[name], want.features[name])
    }
    assert not bad, bad


# --- random scenarios -------------------------------------------------------------------------

CONFIGS = st.sampled_from(
    [
        FeatureConfig(),
        FeatureConfig(allowed_lateness_ms=0),
        FeatureConfig(max_seen=2, minor_per_major=1),
        FeatureConfig(allowed_lateness_ms=HOUR, tz=timezone(timedelta(hours=5, minutes=30))),
        FeatureConfig(minor_per_major=1000, tz=timezone(timedelta(hours=-7))),
    ]
)
PROFILES = st.sampled_from(
    [None, HomeProfile("FR", 48.85, 2.35), HomeProfile("US"), HomeProfile(None, 40.7, -74.0)]
)
SPOTS = st.one_of(
    st.sampled_from(
        [(None, None), (48.85, 2.35), (52.52, 13.4), (0.0, 0.0), (math.nan, 2.0), (1.0, None)]
    ),
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
)
SHIFTS = st.one_of(
    st.sampled_from([0, 1, -1, MINUTE, -MINUTE, 5 * MINUTE, -5 * MINUTE, -5 * MINUTE - 1]),
    st.sampled_from(list(WIDTHS.values())).flatmap(lambda w: st.sampled_from([w - 1, w, w + 1])),
    st.sampled_from([30 * DAY + 5 * MINUTE, 30 * DAY + 5 * MINUTE + 1, -HOUR, -HOUR - 1]),
    st.integers(-2 * HOUR, 3 * DAY),
)


def new_event(data: st.DataObject, number: int, anchors: Sequence[int]) -> FeatureEvent:
    """An event timed from an earlier one, so windows often end exactly on a boundary."""
    anchor = data.draw(st.sampled_from(anchors)) if anchors else T0
    lat, lon = data.draw(SPOTS)
    return FeatureEvent(
        event_id=f"{data.draw(st.integers(0, 99)):02d}-{number}",  # random tie order
        ts_ms=anchor + data.draw(SHIFTS),
        amount_minor=data.draw(st.sampled_from([0, 1, 999, 125_000]) | st.integers(0, 10**7)),
        merchant_id=data.draw(st.sampled_from(["m0", "m1", "m2", "m3"])),
        country=data.draw(st.sampled_from(["FR", "DE", "US"])),
        device_id=data.draw(st.sampled_from([None, "d0", "d1", "d2"])),
        lat=lat,
        lon=lon,
    )


def label_case(
    got: Observation, event: FeatureEvent, sent: list[FeatureEvent], top: int | None
) -> None:
    """Shown by --hypothesis-show-statistics: how often each tricky case is exercised."""
    hypothesis.event("duplicate" if got.duplicate else "late" if got.late else "accepted")
    if top is not None and not got.late and event.ts_ms < top:
        hypothesis.event("accepted out of order")
    if any(event.ts_ms - e.ts_ms in WIDTHS.values() for e in sent):
        hypothesis.event("another event exactly one window width earlier")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=CONFIGS, profile=PROFILES, data=st.data())
def test_engine_matches_reference(
    config: FeatureConfig, profile: HomeProfile | None, data: st.DataObject
) -> None:
    engine, shadow, reference = AccountFeatures(config), AccountFeatures(config), Reference(config)
    sent: list[FeatureEvent] = []
    first_result: dict[str, Observation] = {}
    for number in range(data.draw(st.integers(1, 40))):
        if sent and data.draw(st.integers(0, 4)) == 0:
            event = data.draw(st.sampled_from(sent))  # a redelivery
        else:
            event = new_event(data, number, [e.ts_ms for e in sent])
            sent.append(event)
        top, before = reference.max_ts(), engine.to_bytes()
        want = reference.observe(event, profile)
        peeked = engine.peek(event, profile)
        assert engine.to_bytes() == before
        got = engine.observe(event, profile)
        label_case(got, event, sent, top)
        assert_vectors(got, want, exact=False)
        assert_vectors(peeked, got, exact=True)
        if data.draw(st.booleans()):  # restart from the changelog mid-sequence
            shadow = AccountFeatures.from_bytes(shadow.to_bytes(), config)
        assert_vectors(shadow.observe(event, profile), got, exact=True)
        assert shadow.to_bytes() == engine.to_bytes()
        if got.late or got.duplicate:
            assert engine.to_bytes() == before
        if got.duplicate and top is not None and event.ts_ms >= top - config.allowed_lateness_ms:
            assert_vectors(got, first_result[event.event_id], exact=True)
        first_result.setdefault(event.event_id, Observation(got.features, got.late, True))
