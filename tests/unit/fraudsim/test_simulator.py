"""The simulator follows the published design: sizes, fraud shares, scenario counts, order."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pycountry
import pytest

from decision_core.pipeline import invalid
from fraudsim.simulate import SimConfig, SimulatedData, simulate
from fraudsim.simulate.config import DAY_MS
from fraudsim.simulate.population import draw_customers, draw_merchants, reachable_terminals
from fraudsim.tables import TransactionColumns, labels_table, transactions_table
from schemas.pan import contains_pan
from tests.support.simulations import STATS_CONFIG

IN_DAY = 0.9692  # P(0 < Normal(43,200 s, 20,000 s) < 86,400 s)


def within(value: float, expected: float, tolerance: float) -> bool:
    return abs(value - expected) <= tolerance * expected


def test_volume_matches_poisson_counts_with_out_of_day_draws_dropped(
    stats_data: SimulatedData,
) -> None:
    genuine_rows = sum(
        n
        for name, n in stats_data.scenario_counts().items()
        if name in ("genuine", "large_amount", "compromised_terminal", "compromised_card")
    )
    per_day = stats_data.customers.per_day.sum()
    assert within(genuine_rows, per_day * STATS_CONFIG.days * IN_DAY, 0.02)


def test_reference_scenarios_have_their_expected_shares(stats_data: SimulatedData) -> None:
    cfg, counts, n = STATS_CONFIG, stats_data.scenario_counts(), len(stats_data.rows)
    days = np.arange(cfg.days)
    # Terminals compromised on a day: 2 a day, each for 28 days (overlaps are rare).
    active = cfg.terminals_per_day * np.minimum(days + 1, cfg.terminal_days)
    assert within(counts["compromised_terminal"] / n, (active / cfg.terminals).mean(), 0.2)
    # 3 cards a day, a third of their next 14 days' payments (each ~1.94 a day).
    window = np.minimum(cfg.card_days, cfg.days - days)
    expected_cards = (cfg.cards_per_day * 2 * IN_DAY * window / 3).sum()
    assert within(counts["compromised_card"], expected_cards, 0.25)
    assert 0.0002 < counts["large_amount"] / n < 0.0012  # 0.055 % at the reference size
    assert 0.025 < stats_data.is_fraud.mean() < 0.05  # small grids: more terminals compromised


def test_extra_scenarios_have_their_expected_counts(stats_data: SimulatedData) -> None:
    counts, days = stats_data.scenario_counts(), STATS_CONFIG.days
    assert within(counts["card_testing"], days * 12.5, 0.15)  # bursts of 5-20
    assert within(counts["account_takeover"], days * 4.0, 0.2)  # 2-6 payments
    assert within(counts["impossible_travel"], days * 2.0, 0.25)  # 1-3 payments


def test_the_same_seed_gives_identical_data_and_another_seed_does_not() -> None:
    cfg = SimConfig(customers=200, terminals=400, days=20, seed=7)
    first, again = simulate(cfg), simulate(cfg)
    assert transactions_table(first).equals(transactions_table(again))
    assert labels_table(first).equals(labels_table(again))
    other = simulate(replace(cfg, seed=8))
    assert not transactions_table(first).equals(transactions_table(other))


def test_reference_only_keeps_the_reference_fraud_and_adds_none() -> None:
    cfg = SimConfig(customers=200, terminals=400, days=20, seed=7)
    full, reference = simulate(cfg).scenario_counts(), simulate(cfg.reference_only())
    counts = reference.scenario_counts()
    assert [counts[k] for k in list(counts)[:4]] == [full[k] for k in list(full)[:4]]
    assert counts["card_testing"] == counts["account_takeover"] == counts["impossible_travel"] == 0


def test_rows_are_valid_transactions_in_canonical_order(stats_data: SimulatedData) -> None:
    columns = TransactionColumns.from_table(transactions_table(stats_data))
    records = [columns.record(i) for i in range(0, len(columns), 97)]
    assert all(invalid(tx) is None for tx in records)
    assert not any(contains_pan(tx.card_token) for tx in records)
    assert {tx.currency for tx in records} == {"EUR"}
    assert all(pycountry.countries.get(alpha_2=tx.country) for tx in records)
    keys = list(zip(columns.ts_ms, columns.values["transaction_id"], strict=True))
    assert keys == sorted(keys)
    assert len(set(columns.values["transaction_id"])) == len(columns)


def test_each_account_keeps_mostly_to_one_home_country(stats_data: SimulatedData) -> None:
    columns = TransactionColumns.from_table(transactions_table(stats_data))
    by_account: dict[str, Counter[str]] = {}
    for i in np.flatnonzero(stats_data.rows.scenario == 0).tolist():
        account = columns.values["account_id"][i]
        by_account.setdefault(account, Counter())[columns.values["country"][i]] += 1
    shares = [c.most_common(1)[0][1] / c.total() for c in by_account.values()]
    assert np.median(shares) > 0.8


def test_fraud_labels_arrive_within_the_delay(stats_data: SimulatedData) -> None:
    fraud = stats_data.is_fraud
    delay = (stats_data.labelled_at_ms - stats_data.rows.ts_ms)[fraud] / DAY_MS
    assert delay.min() >= 0.5 and delay.max() <= 7.0
    assert labels_table(stats_data).num_rows == fraud.sum()


def test_a_config_refuses_delays_beyond_the_protocol_gap() -> None:
    with pytest.raises(ValueError, match="label delays"):
        SimConfig(label_delay_days=(1.0, 10.0))


@pytest.mark.parametrize(
    ("customers", "terminals", "radius"), [(3_000, 2_000, 5.0), (500, 800, 12.5)]
)
def test_reachable_terminals_are_every_terminal_within_the_radius_in_order(
    customers: int, terminals: int, radius: float
) -> None:
    """The k-d tree's answer is the published design's test of every pair, pair for pair."""
    cfg = SimConfig(customers=customers, terminals=terminals, seed=3)
    people = draw_customers(cfg, np.random.default_rng(1))
    merchants = draw_merchants(cfg, np.random.default_rng(2))
    indptr, indices = reachable_terminals(people, merchants, radius)
    tx, ty = merchants.x[: merchants.terminals], merchants.y[: merchants.terminals]
    dx, dy = people.x[:, None] - tx, people.y[:, None] - ty
    rows, cols = np.nonzero(dx * dx + dy * dy < radius * radius)
    assert np.array_equal(
        indptr, np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=customers))])
    )
    assert np.array_equal(indices, cols)
    assert indices.dtype == indptr.dtype == np.int64 and len(indices) > customers
