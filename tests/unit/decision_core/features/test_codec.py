"""The account state codec: binary formats 2 and 3 (2 plus the currency), exact both ways,
and format 1 (JSON) still read."""

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_core.features import AccountFeatures, AccountWindows, FeatureConfig, FeatureEvent
from decision_core.features.codec import (
    StateDecodeError,
    _encode_json,
    decode_state,
    encode_state,
)

MINUTE = 60_000
DAY = 24 * 60 * MINUTE
T0 = 1_700_000_000_000
# What the previous version (format 1) wrote for the account built by ``two_events``.
FORMAT_1 = (
    b'[1,2,[1700000000000,60000],["5f0c1a52-3b7e-4d47-9a51-0c6f1e2d3a4b","tx-2"],'
    b'[1999,250000],["m1","m2"],["FR","DE"],[48850000,null],[2350000,null],[0,1],[7,11],'
    b'["FR","DE"],["d1"],["m1","m2"],[0,8]]'
)


def parts(state: AccountWindows) -> tuple[object, ...]:
    """Everything a state holds (the derived indexes follow from these)."""
    seen = (state.seen_countries, state.seen_devices, state.seen_merchants)
    return (
        [list(c) for c in state.columns()],
        state.next_seq,
        [list(s) for s in seen],
        state.applied_offsets,
    )


def exact(state: AccountWindows) -> bytes:
    """Encode, decode, encode: the same bytes and the same state both ways."""
    data = encode_state(state)
    restored = decode_state(data, state.config)
    assert parts(restored) == parts(state)
    assert encode_state(restored) == data
    return data


def two_events() -> AccountFeatures:
    account = AccountFeatures()
    event = FeatureEvent(
        "5f0c1a52-3b7e-4d47-9a51-0c6f1e2d3a4b", T0, 1999, "m1", "FR", "d1", 48.85, 2.35
    )
    account.observe_at(event, 0, 7)
    account.observe_at(FeatureEvent("tx-2", T0 + MINUTE, 250000, "m2", "DE"), 0, 8)
    return account


def busy(ids: str = "uuid", events: int = 60) -> AccountWindows:
    account = AccountFeatures()
    for n in range(events):
        event_id = str(uuid.UUID(int=n * 7919 + 1)) if ids == "uuid" else f"tx-{n}"
        where = (48.85 + n / 1000, 2.35) if n % 5 else (None, None)
        account.observe_at(
            FeatureEvent(event_id, T0 + n * 37 * MINUTE, 1000 + n, f"m{n % 9}", "FR", "d", *where),
            n % 3,
            n,
        )
    return account.state


def test_the_binary_format_is_exact_and_much_smaller_than_json() -> None:
    state = busy()
    data = exact(state)
    assert data[0] == 2
    assert len(data) * 2 < len(_encode_json(state))


@pytest.mark.parametrize("ids", ["uuid", "text"])
def test_ids_of_any_shape_round_trip(ids: str) -> None:
    exact(busy(ids))


@pytest.mark.parametrize(
    "event_id",
    [
        "5F0C1A52-3B7E-4D47-9A51-0C6F1E2D3A4B",  # upper case: must not come back lower
        "5f0c1a52-3b7e-4d47-9a51-0c6f1e2d3a4",
        "5f0c1a52x3b7e-4d47-9a51-0c6f1e2d3a4b",
        "5f0c1a52-3b7e-4d47-9a51-0c6f1e2d3a4g",
        "5f0c1a52-3b7e-4d47-9a51 0c6f1e2d3a4b",
        "",
        "é",
    ],
)
def test_ids_that_only_look_like_uuids_come_back_as_they_were(event_id: str) -> None:
    account = AccountFeatures()
    account.observe(FeatureEvent(event_id, T0, 1, "m", "FR"))
    account.observe(FeatureEvent(str(uuid.UUID(int=5)), T0 + 1, 1, "m", "FR"))
    exact(account.state)


def test_empty_and_unlocated_states_round_trip() -> None:
    exact(AccountWindows())
    account = AccountFeatures()
    account.observe(FeatureEvent("a", T0, 1, "m", "FR"))
    exact(account.state)


def test_out_of_order_arrivals_and_wide_values_round_trip() -> None:
    account = AccountFeatures()
    account.observe(FeatureEvent("late", T0 + 10 * MINUTE, 2**40, "m", "FR", None, -33.9, 151.2))
    account.observe(FeatureEvent("early", T0 + 8 * MINUTE, 2**63 + 1, "m", "AU", "d"))
    account.observe(FeatureEvent("gap", T0 + 60 * 24 * 60 * MINUTE, 5, "m2", "AU"))
    account.mark_applied(11, 2**62)
    exact(account.state)


def test_values_the_first_seen_memory_forgot_are_kept() -> None:
    account = AccountFeatures(FeatureConfig(max_seen=2))
    for n in range(6):
        account.observe(FeatureEvent(f"e{n}", T0 + n, 1, f"m{n}", f"C{n}", f"d{n}"))
    assert len(account.state.seen_merchants) == 2 < len(set(account.state.merchants))
    exact(account.state)


def test_a_state_the_binary_layout_cannot_hold_is_written_as_json_and_read_back() -> None:
    account = AccountFeatures()
    account.observe(FeatureEvent("a", T0, 1, "merchant\0with a nul", "FR"))
    data = exact(account.state)
    assert data.startswith(b"[1,")


def test_format_1_written_before_the_upgrade_is_still_read() -> None:
    state = decode_state(FORMAT_1)
    assert parts(state) == parts(two_events().state)
    assert encode_state(state) == two_events().to_bytes()
    assert encode_state(state)[0] == 2
    restored = AccountFeatures.from_bytes(FORMAT_1)
    observed = restored.observe(FeatureEvent("tx-2", T0 + MINUTE, 250000, "m2", "DE"))
    assert observed.duplicate


def test_a_state_with_a_currency_is_format_3_and_round_trips_exactly() -> None:
    state = busy()
    without = encode_state(state)
    state.currency = "INR"
    data = exact(state)
    assert data[0] == 3 and without[0] == 2
    # Format 2 with the currency after it: a state without one is written as before.
    assert data[1:-4] == without[1:] and data[-4:] == b"INR\x03"
    assert decode_state(data).currency == "INR"
    assert decode_state(without).currency is None


def test_format_2_written_before_the_currency_decodes_without_one() -> None:
    state = decode_state(encode_state(two_events().state))
    assert state.currency is None
    assert AccountFeatures(state=state).state.ids == [
        "5f0c1a52-3b7e-4d47-9a51-0c6f1e2d3a4b",
        "tx-2",
    ]


def test_a_json_state_keeps_its_currency_and_format_1_has_none() -> None:
    state = two_events().state
    state.currency = "EUR"
    restored = decode_state(_encode_json(state))
    assert restored.currency == "EUR" and parts(restored) == parts(state)
    assert decode_state(FORMAT_1).currency is None


@pytest.mark.parametrize("data", [b"\x03" + b"x" * 5 + b"\x00", b"\x03\x05", b"\x03INR\x09"])
def test_a_malformed_currency_trailer_raises_a_decode_error(data: bytes) -> None:
    with pytest.raises(StateDecodeError):
        decode_state(data)


@pytest.mark.parametrize("cut", [1, 10, -1])
def test_truncated_or_padded_binary_state_raises_a_decode_error(cut: int) -> None:
    data = encode_state(busy())
    with pytest.raises(StateDecodeError):
        decode_state(data[:cut])
    with pytest.raises(StateDecodeError):
        decode_state(data + b"\0")


@pytest.mark.parametrize("data", [b"", b"\x03rest", b"\x00"])
def test_an_unknown_format_raises_a_decode_error(data: bytes) -> None:
    with pytest.raises(StateDecodeError):
        decode_state(data)


@st.composite
def events(draw: st.DrawFn) -> list[tuple[FeatureEvent, int, int]]:
    out = []
    ts = T0
    for n in range(draw(st.integers(0, 40))):
        ts += draw(st.sampled_from([-7 * MINUTE, 0, MINUTE, 3 * 60 * MINUTE, 20 * DAY]))
        uuid_id = draw(st.booleans())
        event_id = str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))) if uuid_id else f"e{n}"
        located = draw(st.booleans())
        event = FeatureEvent(
            event_id,
            ts,
            draw(st.integers(1, 2**63)),
            draw(st.sampled_from(["m0", "m1", "mé", ""])),
            draw(st.sampled_from(["FR", "DE"])),
            draw(st.sampled_from(["d0", None])),
            draw(st.floats(-90, 90)) if located else None,
            draw(st.floats(-180, 180)) if located else None,
        )
        out.append((event, draw(st.integers(0, 3)), n))
    return out


@settings(max_examples=200, deadline=None)
@given(history=events(), max_seen=st.integers(1, 4))
def test_any_state_round_trips_exactly(
    history: list[tuple[FeatureEvent, int, int]], max_seen: int
) -> None:
    account = AccountFeatures(FeatureConfig(max_seen=max_seen))
    for event, partition, offset in history:
        account.observe_at(event, partition, offset)
    exact(account.state)
