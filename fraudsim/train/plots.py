"""The PNG figures of a training run: precision-recall curves and feature importance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from sklearn.metrics import precision_recall_curve  # noqa: E402

from fraudsim.train.evaluate import FoldResult  # noqa: E402


def pr_curves(folds: Sequence[FoldResult], path: Path, day_zero: str) -> Path:
    """One precision-recall curve per test fold, labelled with its start and AP."""
    figure, axes = plt.subplots(figsize=(7, 5), dpi=110)
    for fold in folds:
        precision, recall, _ = precision_recall_curve(fold.fraud, fold.score)
        axes.step(recall, precision, where="post", label=f"day {fold.start}: AP {fold.ap:.3f}")
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
             title=f"Precision-recall, prequential test folds (day 0 = {day_zero})")  # fmt: skip
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def importance_bars(gains: Mapping[str, float], path: Path) -> Path:
    """Total gain per feature of the final model, largest at the top."""
    names = list(gains)[::-1]
    total = sum(gains.values()) or 1.0
    figure, axes = plt.subplots(figsize=(7, max(3.0, 0.28 * len(names) + 1)), dpi=110)
    axes.barh(names, [gains[n] / total for n in names])
    axes.set(xlabel="share of total gain", title="Feature importance (final model, total gain)")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
