"""Decision thresholds for the agents: review a target share of traffic, decline when sure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fraudsim.train.metrics import threshold_for_rate


@dataclass(frozen=True, slots=True)
class Thresholds:
    review_at: float
    decline_at: float  # 1.0 when no score reaches the wanted precision: the model never declines
    review_rate: float  # measured on the held-out week
    review_precision: float
    review_recall: float
    decline_rate: float
    decline_precision: float
    decline_recall: float


def choose_thresholds(
    fraud: npt.NDArray[np.bool_],
    score: npt.NDArray[np.float64],
    review_rate: float,
    decline_precision: float,
) -> Thresholds:
    """``review_at`` flags about ``review_rate`` of transactions; ``decline_at`` is the lowest
    score, not below ``review_at``, from which at least ``decline_precision`` are fraud."""
    review_at = threshold_for_rate(score, review_rate)
    order = np.argsort(-score, kind="stable")
    ranked, hits = score[order], np.cumsum(fraud[order])
    precision = hits / np.arange(1, len(ranked) + 1)
    # Only where the score changes: a threshold takes every row of an equal score.
    last_of_value = np.r_[ranked[1:] != ranked[:-1], True]
    ok = last_of_value & (precision >= decline_precision) & (ranked >= review_at)
    decline_at = float(ranked[np.flatnonzero(ok)[-1]]) if ok.any() else 1.0
    return Thresholds(review_at, max(decline_at, review_at), *_rates(fraud, score, review_at),
                      *_rates(fraud, score, decline_at))  # fmt: skip


def _rates(
    fraud: npt.NDArray[np.bool_], score: npt.NDArray[np.float64], threshold: float
) -> tuple[float, float, float]:
    """Share of rows flagged, precision and recall at ``threshold``."""
    flagged = score >= threshold
    n_flagged, frauds = int(flagged.sum()), int(fraud.sum())
    caught = int((flagged & fraud).sum())
    return (
        n_flagged / len(score) if len(score) else 0.0,
        caught / n_flagged if n_flagged else 0.0,
        caught / frauds if frauds else 0.0,
    )
