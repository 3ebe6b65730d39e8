"""Metrics, folds and thresholds on tiny hand-made examples."""

from __future__ import annotations

import numpy as np
import pytest

from fraudsim.train.folds import Protocol, latest_start, make_fold
from fraudsim.train.metrics import card_precision_at_k, recall_by_scenario, threshold_for_rate
from fraudsim.train.thresholds import choose_thresholds


def arrays(*values: list[float]) -> list[np.ndarray]:  # type: ignore[type-arg]
    return [np.asarray(v) for v in values]


def test_card_precision_uses_each_cards_best_score_and_forgets_cards_already_caught() -> None:
    # Day 0: card 1 (fraud, best 0.9), card 2 (genuine, 0.8), card 3 (fraud, 0.3).
    # Day 1: card 1 again (fraud, 0.95: already caught, so not ranked), card 2 (0.7),
    # card 3 (fraud, 0.6), card 4 (genuine, 0.1).
    day, card, fraud, score = arrays(
        [0, 0, 0, 0, 1, 1, 1, 1],
        [1, 1, 2, 3, 1, 2, 3, 4],
        [1, 0, 0, 1, 1, 0, 1, 0],
        [0.9, 0.2, 0.8, 0.3, 0.95, 0.7, 0.6, 0.1],
    )
    fraud = fraud.astype(bool)
    # k = 2: day 0 ranks cards 1, 2 -> 1/2; day 1 ranks 2, 3 (card 1 is gone) -> 1/2.
    assert card_precision_at_k(day, card, fraud, score, k=2) == pytest.approx(0.5)
    # k = 3: day 0 -> 2/3 (1 and 3 caught); day 1 ranks 2 and 4 only -> 0/3.
    assert card_precision_at_k(day, card, fraud, score, k=3) == pytest.approx(1 / 3)


def test_precision_is_over_k_even_on_a_day_with_fewer_cards() -> None:
    day, card, fraud, score = arrays([0], [7], [1], [0.5])
    assert card_precision_at_k(day, card, fraud.astype(bool), score, k=100) == 0.01


def test_a_fold_drops_cards_known_to_be_compromised_by_each_test_day() -> None:
    protocol = Protocol(train_days=2, delay_days=2, test_days=3, folds=1)
    # Card 0: fraud on day 1 (training) -> dropped from every test day (4, 5, 6).
    # Card 1: fraud on day 2 (delay) -> known from test day 5 on (day - delay > 2).
    # Card 2: fraud on day 5 only -> never known before its test days.
    day = np.array([1, 4, 5, 6, 2, 4, 5, 6, 5, 6, 0])
    account = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    fraud = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0], dtype=bool)
    fold = make_fold(day, account, fraud, 0, protocol)
    assert fold.train.tolist() == [0, 10]
    assert fold.test.tolist() == [5, 8, 9]


def test_a_longer_training_window_keeps_the_published_test_set() -> None:
    rng = np.random.default_rng(3)
    day = rng.integers(0, 40, 4_000)
    account = rng.integers(0, 300, 4_000)
    fraud = rng.random(4_000) < 0.05
    published = make_fold(day, account, fraud, 20, Protocol(folds=1))
    # Three weeks of training reaching back from the same test week: more rows to learn
    # from, the same cards dropped as known (frauds of the 7 days before the delay on).
    longer = make_fold(day, account, fraud, 6, Protocol(train_days=21, folds=1))
    assert longer.test.tolist() == published.test.tolist()
    assert len(longer.train) > 2 * len(published.train)


def test_folds_start_on_the_published_day_when_the_data_is_long_enough() -> None:
    protocol = Protocol()
    assert latest_start(183, protocol) == 115
    assert protocol.starts(115) == [115, 108, 101, 94]
    assert latest_start(60, protocol) == 39
    with pytest.raises(ValueError, match="before the data"):
        Protocol(folds=8).starts(39)


def test_recall_per_scenario_and_the_review_threshold() -> None:
    scenario = np.array([0, 0, 0, 1, 2, 2])
    score = np.array([0.1, 0.2, 0.9, 0.8, 0.7, 0.05])
    assert recall_by_scenario(scenario, score, 0.5, ("genuine", "a", "b")) == {"a": 1.0, "b": 0.5}
    assert threshold_for_rate(np.arange(100) / 100, 0.1) == pytest.approx(0.9)


def test_thresholds_review_a_share_and_decline_only_where_precise() -> None:
    score = np.array([0.99, 0.95, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    fraud = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    chosen = choose_thresholds(fraud, score, review_rate=0.5, decline_precision=0.9)
    assert chosen.review_at == 0.6 and chosen.review_rate == 0.5
    assert chosen.review_precision == 0.8 and chosen.review_recall == 1.0
    assert chosen.decline_at == 0.9 and chosen.decline_precision == 1.0
    never = choose_thresholds(~fraud, score, review_rate=0.5, decline_precision=0.9)
    assert never.decline_at == 1.0 and never.decline_rate == 0.0
