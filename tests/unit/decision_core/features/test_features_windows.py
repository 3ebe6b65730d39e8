"""Worked examples of the window edges, lateness, duplicates, first-seen memory and NaNs."""

import math
from datetime import UTC, timedelta, timezone

import pytest

from decision_core.features import (
    FEATURE_NAMES,
    AccountFeatures,
    FeatureConfig,
    FeatureEvent,
    HomeProfile,
    haversine_km,
    replay_account,
)

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = 1_700_006_400_000  # Wednesday 2023-11-15 00:00 UTC
PARIS, BERLIN = (48.8566, 2.3522), (52.52, 13.405)


def tx(event_id: str, ts_ms: int, amount: int = 1000, **fields: object) -> FeatureEvent:
    values: dict[str, object] = {"merchant_id": "m1", "country": "FR", "device_id": "d1"}
    values.update(fields)
    return FeatureEvent(event_id, ts_ms, amount, **values)  # type: ignore[arg-type]


def same_vector(a: list[float], b: list[float]) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


def test_feature_names_are_the_model_column_order() -> None:
    features = AccountFeatures().observe(tx("a", T0)).features
    assert tuple(features) == FEATURE_NAMES
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == 27
    assert FEATURE_NAMES[:3] == ("count_1h", "sum_1h", "mean_1h")


@pytest.mark.parametrize(("name", "width"), [("1h", HOUR), ("24h", DAY), ("7d", 7 * DAY)])
def test_event_exactly_one_width_old_is_out_and_one_ms_younger_is_in(name: str, width: int) -> None:
    account = AccountFeatures()
    account.observe(tx("edge", T0 - width, 100))
    account.observe(tx("inside", T0 - width + 1, 20))
    features = account.observe(tx("now", T0, 3)).features
    assert features[f"count_{name}"] == 2.0
    assert features[f"sum_{name}"] == pytest.approx(0.23)
    assert features["count_30d"] == 3.0


def test_thirty_day_edge_and_same_millisecond_events() -> None:
    account = AccountFeatures()
    account.observe(tx("old", T0 - 30 * DAY, 100))
    account.observe(tx("z-same-ms", T0, 5))  # sorts after "now" but shares its millisecond
    features = account.observe(tx("now", T0, 3)).features
    assert features["count_30d"] == 2.0
    assert features["count_1h"] == 2.0
    assert features["secs_since_prev"] == 0.0
    assert math.isnan(features["travel_speed_kmh"])


def test_first_event_has_nan_where_nothing_is_known() -> None:
    features = AccountFeatures().observe(tx("a", T0, 1234, lat=PARIS[0], lon=PARIS[1])).features
    unknown = ("secs_since_prev", "amount_to_mean_30d", "amount_to_median_30d", "home_distance_km")
    for name in (*unknown, "is_home_country"):
        assert math.isnan(features[name]), name
    assert math.isnan(features["travel_speed_kmh"])
    assert features["mean_1h"] == features["amount"] == 12.34
    assert (features["new_country"], features["new_device"], features["new_merchant"]) == (1, 1, 1)


def test_amount_ratio_excludes_the_current_event_and_is_nan_on_zero_mean() -> None:
    account = AccountFeatures()
    assert math.isnan(account.observe(tx("a", T0, 0)).features["amount_to_mean_30d"])
    assert math.isnan(account.observe(tx("b", T0 + 1, 500)).features["amount_to_mean_30d"])
    assert account.observe(tx("c", T0 + 2, 750)).features["amount_to_mean_30d"] == 3.0


def test_median_ratio_ignores_a_few_large_amounts_and_averages_the_middle_pair() -> None:
    account = AccountFeatures()
    assert math.isnan(account.observe(tx("a", T0, 0)).features["amount_to_median_30d"])
    for i, amount in enumerate((100, 100, 5000)):
        account.observe(tx(f"b{i}", T0 + 1 + i, amount))
    # Window 0, 100, 100, 5000: median 100 (the mean, 1300, would hide a 5x amount).
    assert account.observe(tx("c", T0 + 9, 500)).features["amount_to_median_30d"] == 5.0
    # Window 0, 100, 100, 500, 5000: median 100; with 300 added the middle pair is 100, 300.
    assert account.observe(tx("d", T0 + 10, 300)).features["amount_to_median_30d"] == 3.0
    assert account.observe(tx("e", T0 + 11, 400)).features["amount_to_median_30d"] == 2.0


def test_out_of_order_event_within_lateness_is_inserted_at_its_place() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0))
    account.observe(tx("c", T0 + 10 * MINUTE))
    early = account.observe(tx("b", T0 + 5 * MINUTE))  # exactly at the lateness bound
    assert not early.late
    assert early.features["count_1h"] == 2.0  # "c" is after it in event time
    assert early.features["secs_since_prev"] == 300.0
    assert account.observe(tx("d", T0 + 11 * MINUTE)).features["count_1h"] == 4.0


def test_late_event_is_scored_but_changes_nothing() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0))
    account.observe(tx("c", T0 + 10 * MINUTE))
    before = account.to_bytes()
    late = account.observe(tx("b", T0 + 5 * MINUTE - 1, country="DE"))
    assert late.late and not late.duplicate
    assert late.features["count_1h"] == 2.0  # itself and "a"
    assert late.features["new_country"] == 1.0
    assert account.to_bytes() == before
    assert account.observe(tx("d", T0 + 11 * MINUTE, country="DE")).features["new_country"] == 1.0


def test_redelivered_event_is_not_counted_twice_and_scores_as_first_time() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0, country="FR"))
    first = account.observe(tx("b", T0 + MINUTE, country="DE", device_id="d2"))
    account.observe(tx("c", T0 + 30 * 1000, country="US"))  # arrives later, happened earlier
    before = account.to_bytes()
    again = account.observe(tx("b", T0 + MINUTE, country="DE", device_id="d2"))
    assert again.duplicate and not again.late
    assert same_vector(again.vector(), first.vector())
    assert again.features["count_1h"] == 2.0
    assert account.to_bytes() == before
    assert account.observe(tx("d", T0 + 2 * MINUTE)).features["count_1h"] == 4.0


def test_first_seen_memory_forgets_the_least_recently_seen() -> None:
    account = AccountFeatures(FeatureConfig(max_seen=2))
    for number, merchant in enumerate(["m1", "m2", "m1", "m3"]):
        account.observe(tx(f"e{number}", T0 + number * MINUTE, merchant_id=merchant))
    assert list(account.state.seen_merchants) == ["m1", "m3"]  # m2 was least recently seen
    assert account.observe(tx("x", T0 + HOUR, merchant_id="m2")).features["new_merchant"] == 1.0
    assert account.observe(tx("y", T0 + HOUR, merchant_id="m3")).features["new_merchant"] == 0.0


def test_missing_device_is_unknown_not_new() -> None:
    account = AccountFeatures()
    assert math.isnan(account.observe(tx("a", T0, device_id=None)).features["new_device"])
    assert account.observe(tx("b", T0 + 1, device_id="d9")).features["new_device"] == 1.0


def test_learned_home_is_the_window_mode_and_centroid_without_the_current_event() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0, country="FR", lat=PARIS[0], lon=PARIS[1]))
    account.observe(tx("b", T0 + 1, country="DE", lat=BERLIN[0], lon=BERLIN[1]))
    features = account.observe(tx("c", T0 + 2, country="DE", lat=PARIS[0], lon=PARIS[1])).features
    assert features["is_home_country"] == 1.0  # a tie: DE was seen last
    centre = ((PARIS[0] + BERLIN[0]) / 2, (PARIS[1] + BERLIN[1]) / 2)
    assert features["home_distance_km"] == pytest.approx(haversine_km(centre, PARIS))


def test_null_island_is_a_location_and_coordinates_are_kept_to_the_microdegree() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0, lat=0.0, lon=0.0))
    account.observe(tx("b", T0 + 1, lat=2.0000004, lon=2.0))
    account.observe(tx("c", T0 + 2, lat=math.nan, lon=5.0))  # not a location
    features = account.observe(tx("d", T0 + 3, lat=1.0, lon=1.0)).features
    assert features["home_distance_km"] == 0.0  # centroid (1, 1): (0, 0) counted
    assert account.state.lats == [0, 2_000_000, None, 1_000_000]


def test_profile_overrides_each_part_of_the_learned_home() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0, country="FR", lat=PARIS[0], lon=PARIS[1]))
    event = tx("b", T0 + 1, country="FR", lat=PARIS[0], lon=PARIS[1])
    declared = account.peek(event, HomeProfile("DE", BERLIN[0], BERLIN[1])).features
    assert declared["is_home_country"] == 0.0
    assert declared["home_distance_km"] == pytest.approx(877.5, abs=1.0)
    country_only = account.peek(event, HomeProfile("DE")).features
    assert country_only["home_distance_km"] == 0.0


def test_travel_speed_from_the_previous_event() -> None:
    account = AccountFeatures()
    account.observe(tx("a", T0, lat=PARIS[0], lon=PARIS[1]))
    features = account.observe(tx("b", T0 + HOUR, lat=BERLIN[0], lon=BERLIN[1])).features
    assert features["travel_speed_kmh"] == pytest.approx(haversine_km(PARIS, BERLIN))
    assert features["secs_since_prev"] == 3600.0
    unlocated = account.observe(tx("c", T0 + 2 * HOUR)).features
    assert math.isnan(unlocated["travel_speed_kmh"])


@pytest.mark.parametrize(
    ("tz", "ts_ms", "hour", "night", "weekend"),
    [
        (UTC, T0 + 5 * HOUR + 59 * MINUTE, 5, 1.0, 0.0),
        (UTC, T0 + 6 * HOUR, 6, 0.0, 0.0),
        (UTC, T0 + 3 * DAY + 23 * HOUR, 23, 0.0, 1.0),  # Saturday
        (timezone(timedelta(hours=5, minutes=30)), T0, 5, 1.0, 0.0),
        (timezone(timedelta(hours=-1)), T0 + 4 * DAY, 23, 0.0, 1.0),  # Saturday 23:00 local
    ],
)
def test_calendar_features_in_the_configured_time_zone(
    tz: timezone, ts_ms: int, hour: int, night: float, weekend: float
) -> None:
    features = AccountFeatures(FeatureConfig(tz=tz)).observe(tx("a", ts_ms)).features
    assert (features["hour_of_day"], features["is_night"], features["is_weekend"]) == (
        hour,
        night,
        weekend,
    )


def test_old_events_are_pruned_past_retention_and_lateness() -> None:
    account = AccountFeatures()
    account.observe(tx("old", T0))
    account.observe(tx("new", T0 + 30 * DAY + 5 * MINUTE))
    assert account.state.ids == ["new"]
    assert account.state.index_of("old") is None


def test_replay_account_scores_like_the_live_agent() -> None:
    events = [tx("a", T0), tx("b", T0 + MINUTE), tx("a", T0)]
    observed = list(replay_account(events))
    assert [o.duplicate for o in observed] == [False, False, True]
    assert observed[1].features["count_1h"] == 2.0


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="invalid feature config"):
        FeatureConfig(max_seen=0)
