"""Merchant risk: the shared counting code vs a brute-force reference, and the stamp policy."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decision_core.features.merchant import (
    DELAY_HOURS,
    HOUR_MS,
    MAX_AGE_HOURS,
    MAX_LEAD_HOURS,
    HourCounts,
    MerchantValues,
    applies,
    merchant_features,
    window_values,
)
from schemas.features import MERCHANT_FEATURE_NAMES

H0 = 490_000  # an hour in 2025: far from zero, as real hours are
# (merchant, hour offset, fraud, label delay in minutes): hours spread over more than the
# 37 days a window reaches; labels from within the hour to five weeks late.
Event = tuple[int, int, bool, int]
in_time = st.integers(0, 167 * 60)  # within the week's delay, as the simulator's
late = st.integers(0, 5 * 7 * 24 * 60)  # a chargeback weeks later
events = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1_100), st.booleans(), in_time), max_size=120
)
late_events = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 1_100), st.booleans(), late), max_size=120
)
queries = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1_200)), min_size=1, max_size=30)


def ts_ms(hour: int) -> int:
    return (H0 + hour) * HOUR_MS + 59_999 * (hour % 7)


def labelled_at_ms(hour: int, delay_minutes: int) -> int:
    return ts_ms(hour) + delay_minutes * 60_000


def reference(history: list[Event], merchant: int, hour: int) -> tuple[float, ...]:
    """The definition, read literally: per window, the transactions at the merchant in hours
    [h-168-24w, h-168), then (recent) in [h-24w, h), and the share of them with a fraud
    label known before hour h."""
    out: list[float] = []
    known_before = (H0 + hour) * HOUR_MS
    for delay in (7 * 24, 0):
        end = hour - delay
        for days in (1, 7, 30):
            inside = [
                f and labelled_at_ms(h, d) < known_before
                for m, h, f, d in history
                if m == merchant and end - 24 * days <= h < end
            ]
            out += [float(len(inside)), sum(inside) / len(inside) if inside else 0.0]
    return tuple(out)


def per_transaction(history: list[Event]) -> HourCounts:
    return HourCounts.per_transaction(
        np.array([m for m, _, _, _ in history], dtype=np.int64),
        np.array([ts_ms(h) for _, h, _, _ in history], dtype=np.int64),
        np.array([f for _, _, f, _ in history], dtype=bool),
        np.array([labelled_at_ms(h, d) for _, h, _, d in history], dtype=np.int64),
    )


def grouped(history: list[Event], hour: int) -> HourCounts:
    """The same history as the job's query hands it over when it computes ``hour``: one row
    per (merchant, hour), counting the frauds whose label it had before ``hour``."""
    known_before = (H0 + hour) * HOUR_MS
    n = Counter((m, H0 + h) for m, h, _, _ in history)
    bad = Counter(
        (m, H0 + h) for m, h, f, d in history if f and labelled_at_ms(h, d) < known_before
    )
    keys = sorted(n)
    return HourCounts(
        np.array([m for m, _ in keys], dtype=np.int64),
        np.array([h for _, h in keys], dtype=np.int64),
        np.array([n[k] for k in keys], dtype=np.int64),
        np.array([bad[k] for k in keys], dtype=np.int64),
    )


def ask(counts: HourCounts, asked: list[tuple[int, int]]) -> np.ndarray:  # type: ignore[type-arg]
    merchants = np.array([m for m, _ in asked], dtype=np.int64)
    hours = np.array([H0 + h for _, h in asked], dtype=np.int64)
    return window_values(counts, merchants, hours)


@settings(max_examples=300, deadline=None)
@given(events, queries)
def test_window_values_match_the_definition(
    history: list[Event], asked: list[tuple[int, int]]
) -> None:
    got = ask(per_transaction(history), asked)
    for row, (merchant, hour) in zip(got.tolist(), asked, strict=True):
        assert row == pytest.approx(reference(history, merchant, hour), rel=1e-12, abs=0)


@settings(max_examples=300, deadline=None)
@given(late_events, queries)
def test_a_late_label_counts_only_from_the_hour_after_it_arrived(
    history: list[Event], asked: list[tuple[int, int]]
) -> None:
    # Chargebacks weeks after their transaction: the fraud is genuine traffic for every
    # hour before its label arrived, as the job, which counts the ledger's labels, sees it.
    got = ask(per_transaction(history), asked)
    for row, (merchant, hour) in zip(got.tolist(), asked, strict=True):
        assert row == pytest.approx(reference(history, merchant, hour), rel=1e-12, abs=0)


def test_a_label_three_weeks_late() -> None:
    week = DELAY_HOURS
    counts = per_transaction([(0, 100, True, 3 * week * 60), (0, 100, False, 0)])
    known = 100 + 3 * week + 1  # the transaction's minute past the hour is under an hour
    [before, after] = ask(counts, [(0, known - 1), (0, known)]).tolist()
    assert before[4:6] == [2.0, 0.0] and after[4:6] == [2.0, 0.5]  # 30 days, a week before
    assert before[10:] == [2.0, 0.0] and after[10:] == [2.0, 0.5]  # the recent 30 days


@settings(max_examples=200, deadline=None)
@given(events, queries)
def test_hourly_counts_give_what_one_row_per_transaction_gives(
    history: list[Event], asked: list[tuple[int, int]]
) -> None:
    # Training hands over transactions, the job grouped counts of the labels known before
    # the hour it computes: the values must not differ.
    offline = ask(per_transaction(history), asked).tolist()
    for row, query in zip(offline, asked, strict=True):
        assert ask(grouped(history, query[1]), [query]).tolist() == [row]


def test_the_window_ends_a_week_before_the_hour_and_excludes_that_hour() -> None:
    counts = per_transaction([(0, 100, True, 0), (0, 100 + DELAY_HOURS, False, 0)])

    def tx_1d_7d(hour: int) -> tuple[float, float]:
        [row] = ask(counts, [(0, hour)]).tolist()
        named = dict(zip(MERCHANT_FEATURE_NAMES, row, strict=True))
        return named["merchant_tx_1d"], named["merchant_tx_7d"]

    assert tx_1d_7d(100 + DELAY_HOURS) == (0.0, 0.0)  # hour h-168 itself is not in
    assert tx_1d_7d(101 + DELAY_HOURS) == (1.0, 1.0)
    assert tx_1d_7d(100 + DELAY_HOURS + 24) == (1.0, 1.0)  # [h-192, h-168) holds hour 100
    assert tx_1d_7d(101 + DELAY_HOURS + 24) == (0.0, 1.0)
    [row] = ask(counts, [(0, 101 + 2 * DELAY_HOURS)]).tolist()
    assert row[4:6] == [2.0, 0.5]  # 30 days: one fraud of two


def test_negative_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        window_values(per_transaction([]), np.array([0]), np.array([-1]))


@pytest.mark.parametrize(
    ("stamp_offset", "used"),
    [(0, True), (-1, True), (-MAX_AGE_HOURS, True), (-MAX_AGE_HOURS - 1, False),
     (MAX_LEAD_HOURS, True), (MAX_LEAD_HOURS + 1, False)],
)  # fmt: skip
def test_a_value_applies_to_transactions_near_its_hour(stamp_offset: int, used: bool) -> None:
    tx_hour = H0 + 5
    held = MerchantValues(tx_hour + stamp_offset, (3.0, 1 / 3, 10.0, 0.1, 40.0, 0.05) * 2)
    assert applies(held.hour, tx_hour) is used
    got = merchant_features(held, tx_hour * HOUR_MS + 1_234)
    assert tuple(got) == MERCHANT_FEATURE_NAMES
    assert tuple(got.values()) == (held.values if used else (0.0,) * 12)


def test_a_merchant_without_values_gets_zeros() -> None:
    assert merchant_features(None, H0 * HOUR_MS) == dict.fromkeys(MERCHANT_FEATURE_NAMES, 0.0)
    assert MerchantValues(H0, (0.0,) * 12).is_zero
