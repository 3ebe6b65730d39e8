"""The rich tables `sentinel train` ends with: metrics against the published ones, recall."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fraudsim.train.card import PUBLISHED_RANGES, TARGETS

_METRICS = (
    ("AUC ROC", "auc_roc"),
    ("Average Precision", "average_precision"),
    ("Card Precision@100", "card_precision_at_100"),
)


def _published(key: str) -> str:
    low, high = PUBLISHED_RANGES[key]
    return f"{low:.3f}" if low == high else f"{low:.3f}-{high:.3f}"


def metrics_table(card: Mapping[str, Any]) -> Table:
    metrics = card["validation"]["test_metrics"]
    folds = card["validation"]["test_folds"]
    starts = ", ".join(str(f["start_day"]) for f in folds)
    table = Table(title=f"{card['version']}: prequential test folds (start days {starts})")
    for column in ("metric", "ours (mean ± std)", "published XGBoost", "target"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for label, key in _METRICS:
        m = metrics[key]
        target = TARGETS.get(key)
        met = target is None or m["mean"] >= target
        style = "green" if met else "yellow"
        table.add_row(label, f"[{style}]{m['mean']:.3f} ± {m['std']:.3f}", _published(key),
                      "" if target is None else f"≥ {target:.2f}")  # fmt: skip
    return table


def recall_table(card: Mapping[str, Any], review_rate: float) -> Table:
    metrics = card["validation"]["test_metrics"]
    counts = card["data"]["by_scenario"]
    table = Table(
        title=f"recall per scenario, reviewing the top {review_rate:.1%} of each test week"
    )
    for column in ("scenario", "frauds in data", "recall (mean ± std)"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for key, m in metrics.items():
        if key.startswith("recall_"):
            name = key.removeprefix("recall_")
            table.add_row(name, f"{counts.get(name, 0):,}", f"{m['mean']:.3f} ± {m['std']:.3f}")
    return table


def thresholds_table(card: Mapping[str, Any]) -> Table:
    t, h = card["thresholds"], card["holdout"]
    table = Table(
        title=f"thresholds on the held-out last week (days {h['days'][0]}-{h['days'][1]})"
    )
    for column in ("outcome", "score ≥", "share of traffic", "precision", "recall"):
        table.add_column(column, justify="left" if column == "outcome" else "right")
    for name in ("review", "decline"):
        table.add_row(name.upper(), f"{t[f'{name}_at']:.4f}", f"{t[f'{name}_rate']:.3%}",
                      f"{t[f'{name}_precision']:.3f}", f"{t[f'{name}_recall']:.3f}")  # fmt: skip
    return table


def show(console: Console, card: Mapping[str, Any], directory: Path, promoted: bool) -> None:
    console.print(metrics_table(card))
    console.print(recall_table(card, card["thresholds"]["review_rate_target"]))
    console.print(thresholds_table(card))
    state = "current" if promoted else "staged (not current: see `sentinel models promote`)"
    console.print(f"model {card['version']} {state} in {directory}")
