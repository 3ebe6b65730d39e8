"""Detection metrics: AUC ROC, Average Precision, Card Precision@k and recall per scenario."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.floating]


def auc_roc(fraud: npt.NDArray[np.bool_], score: Floats) -> float:
    return float(roc_auc_score(fraud, score))


def average_precision(fraud: npt.NDArray[np.bool_], score: Floats) -> float:
    return float(average_precision_score(fraud, score))


def card_precision_at_k(
    day: Ints, card: Ints, fraud: npt.NDArray[np.bool_], score: Floats, k: int = 100
) -> float:
    """Mean over days of the share of fraudulent cards among the day's ``k`` riskiest.

    A card's daily score is its highest transaction score and it counts as fraudulent when
    any of its transactions that day is. Cards found fraudulent in an earlier day's top
    ``k`` are no longer ranked (an investigator has already blocked them). The share is
    always over ``k``, as published, even on a day with fewer cards.
    """
    caught: set[int] = set()
    precisions = []
    for today in np.unique(day):
        rows = day == today
        cards, top_score, top_fraud = _per_card(card[rows], fraud[rows], score[rows])
        keep = np.array([c not in caught for c in cards.tolist()], dtype=bool)
        cards, top_score, top_fraud = cards[keep], top_score[keep], top_fraud[keep]
        # Highest score first; ties broken by card so the result does not depend on order.
        ranked = np.lexsort((cards, -top_score))[:k]
        precisions.append(float(top_fraud[ranked].sum()) / k)
        caught.update(cards[ranked][top_fraud[ranked]].tolist())
    return float(np.mean(precisions)) if precisions else float("nan")


def _per_card(
    card: Ints, fraud: npt.NDArray[np.bool_], score: Floats
) -> tuple[Ints, Floats, npt.NDArray[np.bool_]]:
    cards, inverse = np.unique(card, return_inverse=True)
    top_score = np.full(len(cards), -np.inf)
    np.maximum.at(top_score, inverse, score)
    top_fraud = np.zeros(len(cards), dtype=bool)
    np.logical_or.at(top_fraud, inverse, fraud)
    return cards, top_score, top_fraud


def recall_by_scenario(
    scenario: Ints, score: Floats, threshold: float, names: tuple[str, ...]
) -> dict[str, float]:
    """Per fraud scenario present: the share of its transactions scored at or above."""
    recalls = {}
    for code in np.unique(scenario[scenario > 0]).tolist():
        rows = scenario == code
        recalls[names[code]] = float((score[rows] >= threshold).mean())
    return recalls


def threshold_for_rate(score: Floats, rate: float) -> float:
    """The score at or above which about ``rate`` of the rows lie."""
    if not len(score):
        return 1.0
    return float(np.quantile(score, 1 - rate, method="higher"))
