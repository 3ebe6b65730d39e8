"""Fold-by-fold evaluation of one set of hyperparameters, and choosing among a grid."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fraudsim.train.data import SCENARIO_NAMES, TrainingData
from fraudsim.train.folds import Protocol, make_fold
from fraudsim.train.metrics import (
    auc_roc,
    average_precision,
    card_precision_at_k,
    recall_by_scenario,
    threshold_for_rate,
)
from fraudsim.train.model import Params, fit, predict

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FoldResult:
    start: int
    train_rows: int
    test_rows: int
    test_frauds: int
    auc: float
    ap: float
    cp100: float
    recall: dict[str, float]  # per scenario, at the review rate's threshold
    fraud: npt.NDArray[np.bool_] = field(repr=False)
    score: npt.NDArray[np.float64] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Setup:
    """What every fold needs besides its start day."""

    data: TrainingData
    matrix: Matrix
    names: Sequence[str]
    protocol: Protocol
    threads: int = 2
    review_rate: float = 0.01


def run_fold(setup: Setup, start: int, params: Params) -> FoldResult:
    data, matrix = setup.data, setup.matrix
    p = setup.protocol
    fold = make_fold(data.day, data.account, data.fraud, start, p)
    # The fold's model is trained when its test week begins: it learns from the labels that
    # had arrived by then (all of them when every label keeps to the delay), and is judged
    # on every label, however late.
    trained_at = data.day_start_ms(start + p.train_days + p.delay_days)
    train_fraud = data.known_fraud(trained_at)[fold.train]
    if not train_fraud.any() or train_fraud.all():
        raise ValueError(f"fold starting on day {start} has a single class to train on")
    booster = fit(matrix[fold.train], train_fraud, setup.names, params, setup.threads)
    score = predict(booster, matrix[fold.test], setup.names)
    fraud, test = data.fraud[fold.test], fold.test
    threshold = threshold_for_rate(score, setup.review_rate)
    return FoldResult(
        start,
        len(fold.train),
        len(test),
        int(fraud.sum()),
        auc_roc(fraud, score),
        average_precision(fraud, score),
        card_precision_at_k(data.day[test], data.account[test], fraud, score),
        recall_by_scenario(data.scenario[test], score, threshold, SCENARIO_NAMES),
        fraud,
        score,
    )


def run_folds(
    setup: Setup, latest: int, params: Params, on_fold: Callable[[], None] = lambda: None
) -> list[FoldResult]:
    results = []
    for start in setup.protocol.starts(latest):
        results.append(run_fold(setup, start, params))
        on_fold()
    return results


def choose(
    setup: Setup,
    latest: int,
    grid: Sequence[Params],
    on_fold: Callable[[], None] = lambda: None,
) -> tuple[Params, dict[str, float]]:
    """The grid point with the best mean validation Average Precision, and every mean."""
    means = {}
    for params in grid:
        folds = run_folds(setup, latest, params, on_fold)
        means[params.label()] = float(np.mean([f.ap for f in folds]))
    best = max(grid, key=lambda p: means[p.label()])
    return best, means


def summarise(folds: Sequence[FoldResult]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation across folds of each metric and each scenario's recall."""
    table: dict[str, list[float]] = {
        "auc_roc": [f.auc for f in folds],
        "average_precision": [f.ap for f in folds],
        "card_precision_at_100": [f.cp100 for f in folds],
    }
    for name in SCENARIO_NAMES[1:]:
        values = [f.recall[name] for f in folds if name in f.recall]
        if values:
            table[f"recall_{name}"] = values
    # Sample standard deviation (ddof 1) across folds, as the published tables report it.
    return {
        k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0}
        for k, v in table.items()
    }
