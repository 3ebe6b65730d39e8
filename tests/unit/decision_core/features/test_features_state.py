"""Serialised account state and source-offset idempotency across crash and redelivery."""

import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_core.features import (
    AccountFeatures,
    AccountWindows,
    FeatureConfig,
    FeatureEvent,
    StateDecodeError,
)

MINUTE = 60_000
T0 = 1_700_000_000_000


def tx(event_id: str, ts_ms: int, merchant: str = "m1", device: str | None = "d1") -> FeatureEvent:
    return FeatureEvent(event_id, ts_ms, 1999, merchant, "FR", device, 48.85, 2.35)


def same(a: list[float], b: list[float]) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


def test_round_trip_is_byte_exact_and_keeps_every_part() -> None:
    account = AccountFeatures()
    account.observe(tx("b", T0 + MINUTE, device=None))
    account.observe(tx("a", T0, merchant="m2"))
    account.mark_applied(3, 41)
    account.mark_applied(0, 7)
    data = account.to_bytes()
    restored = AccountFeatures.from_bytes(data)
    assert restored.to_bytes() == data
    state = restored.state
    assert state.ids == ["a", "b"]
    assert state.ts == [T0, T0 + MINUTE]
    assert list(state.seen_merchants) == ["m1", "m2"]
    assert list(state.seen_devices) == ["d1"]
    assert restored.applied_offsets == {0: 7, 3: 41}
    assert state.index_of("b") == 1
    assert restored.observe(tx("b", T0 + MINUTE)).duplicate


def test_empty_state_round_trips() -> None:
    data = AccountFeatures().to_bytes()
    assert AccountFeatures.from_bytes(data).to_bytes() == data


def test_restoring_under_a_smaller_bound_trims_first_seen_memory() -> None:
    account = AccountFeatures()
    for number in range(4):
        account.observe(tx(f"e{number}", T0 + number, merchant=f"m{number}"))
    restored = AccountFeatures.from_bytes(account.to_bytes(), FeatureConfig(max_seen=2))
    assert list(restored.state.seen_merchants) == ["m2", "m3"]


def test_restoring_under_a_shorter_lateness_retires_rows_it_no_longer_needs() -> None:
    account = AccountFeatures(FeatureConfig(allowed_lateness_ms=60 * MINUTE))
    account.observe(tx("old", T0))
    account.observe(tx("new", T0 + 30 * 24 * 60 * MINUTE + 30 * MINUTE))
    assert account.state.ids == ["old", "new"]
    restored = AccountFeatures.from_bytes(account.to_bytes(), FeatureConfig())
    assert restored.state.ids == ["new"]
    assert (
        restored.observe(tx("next", T0 + 30 * 24 * 60 * MINUTE + 31 * MINUTE)).features["count_30d"]
        == 2.0
    )


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"{}",
        orjson.dumps([99] + [[]] * 14),
        orjson.dumps([1, 0, [1, 2]] + [[]] * 12),
        orjson.dumps([1, 0] + [[]] * 12 + [[1]]),
        orjson.dumps([1, 0] + [[]] * 11 + ["x", []]),
    ],
)
def test_undecodable_state_raises_a_decode_error(data: bytes) -> None:
    with pytest.raises(StateDecodeError):
        AccountFeatures.from_bytes(data)


def test_should_apply_and_mark_applied() -> None:
    state = AccountWindows()
    assert state.should_apply(0, 0)
    state.mark_applied(0, 5)
    assert not state.should_apply(0, 5)
    assert not state.should_apply(0, 4)
    assert state.should_apply(0, 6)
    assert state.should_apply(1, 0)  # partitions are independent
    state.mark_applied(0, 3)  # an older record never moves the mark back
    assert state.applied_offsets == {0: 5}
    with pytest.raises(ValueError, match="invalid source position"):
        state.mark_applied(0, -1)


def test_observe_at_applies_a_record_once() -> None:
    account = AccountFeatures()
    first = account.observe_at(tx("a", T0), partition=2, offset=10)
    account.observe_at(tx("b", T0 + MINUTE), partition=2, offset=11)
    before = account.to_bytes()
    again = account.observe_at(tx("a", T0), partition=2, offset=10)
    assert account.to_bytes() == before
    assert again.duplicate and same(again.vector(), first.vector())
    # Even a record whose id was forgotten is not applied again below the mark.
    unseen = account.observe_at(tx("zz", T0 + 2 * MINUTE), partition=2, offset=9)
    assert not unseen.duplicate and account.to_bytes() == before


@st.composite
def records(draw: st.DrawFn) -> list[FeatureEvent]:
    count = draw(st.integers(1, 30))
    events: list[FeatureEvent] = []
    for number in range(count):
        if events and draw(st.integers(0, 5)) == 0:
            events.append(draw(st.sampled_from(events)))  # a producer retry: same id, new offset
            continue
        jitter = draw(st.sampled_from([-6 * MINUTE, -MINUTE, 0, MINUTE, 3 * 60 * MINUTE]))
        base = events[-1].ts_ms if events else T0
        merchant = draw(st.sampled_from(["m0", "m1", "m2"]))
        events.append(tx(f"e{number}", base + jitter, merchant, draw(st.sampled_from(["d", None]))))
    return events


@settings(max_examples=150, deadline=None)
@given(events=records(), data=st.data())
def test_crash_and_redelivery_give_the_state_of_a_single_pass(
    events: list[FeatureEvent], data: st.DataObject
) -> None:
    single = AccountFeatures()
    snapshots = [single.to_bytes()]  # changelog value after each record
    results = []
    for offset, event in enumerate(events):
        results.append(single.observe_at(event, 0, offset))
        snapshots.append(single.to_bytes())
    # Crash after `restored` records reached the changelog; `committed` <= that were committed.
    restored = data.draw(st.integers(0, len(events)))
    committed = data.draw(st.integers(0, restored))
    replayed = AccountFeatures.from_bytes(snapshots[restored])
    for offset in range(committed, len(events)):
        result = replayed.observe_at(events[offset], 0, offset)
        if offset >= restored:
            assert same(result.vector(), results[offset].vector())
            assert (result.late, result.duplicate) == (
                results[offset].late,
                results[offset].duplicate,
            )
    assert replayed.to_bytes() == single.to_bytes()


@settings(max_examples=150, deadline=None)
@given(events=records(), data=st.data())
def test_apply_at_leaves_the_state_observe_at_leaves(
    events: list[FeatureEvent], data: st.DataObject
) -> None:
    # Replay's warm-up applies events without scoring them, then scores the rest as live.
    observed, applied = AccountFeatures(), AccountFeatures()
    warm = data.draw(st.integers(0, len(events)))
    redelivered = data.draw(st.integers(0, warm))
    for offset, event in enumerate(events):
        observed.observe_at(event, 0, offset)
    for offset in [*range(warm), *range(redelivered, warm)]:
        applied.apply_at(events[offset], 0, offset)
    for offset in range(warm, len(events)):
        applied.observe_at(events[offset], 0, offset)
    assert applied.to_bytes() == observed.to_bytes()


@settings(max_examples=150, deadline=None)
@given(
    countries=st.lists(st.sampled_from(["FR", "DE", "BR"]), min_size=1, max_size=25),
    again=st.data(),
)
def test_the_home_country_is_the_one_before_the_event_and_a_redelivery_sees_it_again(
    countries: list[str], again: st.DataObject
) -> None:
    account = AccountFeatures()
    events = [
        FeatureEvent(f"e{i}", T0 + i * MINUTE, 1999, "m1", country, "d1", None, None)
        for i, country in enumerate(countries)
    ]
    homes = []
    for offset, event in enumerate(events):
        before = account.home_country(event.ts_ms)  # the event does not vote for itself
        observation = account.observe_at(event, 0, offset)
        assert observation.home_country == before
        homes.append(before)
    offset = again.draw(st.integers(0, len(events) - 1))
    redelivered = account.observe_at(events[offset], 0, offset)
    assert redelivered.duplicate and redelivered.home_country == homes[offset]
