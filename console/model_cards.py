"""A model card (``card.json``) as the Models pages show it, and the one check that decides
which registry files the console may serve. Pure: no I/O beyond ``Path.resolve``.

Cards differ by age and origin (a training run's card holds metrics, thresholds and data;
a hand-published one may hold only its feature names), so every figure is optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

# Scores of the prequential test folds, in the order the page shows them.
TEST_METRICS: Final = (
    ("auc_roc", "AUC ROC"),
    ("average_precision", "AP"),
    ("card_precision_at_100", "CP@100"),
)
# The figures a training run writes beside its card (fraudsim/train/run.py): nothing else
# of a version's folder is served (not the model, not the card's neighbours).
FIGURES: Final = {"pr_curve.png": "Precision-recall", "feature_importance.png": "Importance"}


@dataclass(frozen=True, slots=True)
class Metric:
    mean: float
    std: float | None = None


@dataclass(frozen=True, slots=True)
class ThresholdFigures:
    review_at: float
    decline_at: float
    review_rate: float | None
    review_precision: float | None
    review_recall: float | None
    decline_rate: float | None
    decline_precision: float | None
    decline_recall: float | None


@dataclass(frozen=True, slots=True)
class CardFigures:
    """Everything the pages show of one card; None or empty where the card has nothing."""

    version: str
    created_at: str | None
    features: int
    trees: int | None
    library: str | None
    test: dict[str, Metric] = field(default_factory=dict)
    scenario_recall: dict[str, Metric] = field(default_factory=dict)
    holdout: dict[str, float] = field(default_factory=dict)
    thresholds: ThresholdFigures | None = None
    data: dict[str, Any] = field(default_factory=dict)
    folds: list[dict[str, Any]] = field(default_factory=list)
    published: dict[str, list[float]] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _metric(value: Any) -> Metric | None:
    if isinstance(value, Mapping) and (mean := _number(value.get("mean"))) is not None:
        return Metric(mean, _number(value.get("std")))
    number = _number(value)
    return None if number is None else Metric(number)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _thresholds(card: Mapping[str, Any]) -> ThresholdFigures | None:
    chosen = _mapping(card.get("thresholds"))
    review, decline = _number(chosen.get("review_at")), _number(chosen.get("decline_at"))
    if review is None or decline is None:
        return None
    rest = (
        "review_rate",
        "review_precision",
        "review_recall",
        "decline_rate",
        "decline_precision",
        "decline_recall",
    )
    return ThresholdFigures(review, decline, *(_number(chosen.get(k)) for k in rest))


def figures(version: str, card: Mapping[str, Any]) -> CardFigures:
    """The card's figures, whatever of them it holds."""
    validation = _mapping(card.get("validation"))
    tested = _mapping(validation.get("test_metrics"))
    test = {k: m for k, _label in TEST_METRICS if (m := _metric(tested.get(k))) is not None}
    recall = {
        k.removeprefix("recall_"): m
        for k, v in tested.items()
        if k.startswith("recall_") and (m := _metric(v)) is not None
    }
    holdout = {
        k: n for k in ("auc_roc", "average_precision")
        if (n := _number(_mapping(card.get("holdout")).get(k))) is not None
    }  # fmt: skip
    model = _mapping(card.get("model"))
    trees = _number(model.get("trees"))
    published = {
        k: [float(x) for x in v]
        for k, v in _mapping(card.get("published_reference")).items()
        if isinstance(v, list) and all(_number(x) is not None for x in v)
    }
    targets = {k: n for k, v in _mapping(card.get("targets")).items() if (n := _number(v))}
    folds = validation.get("test_folds")
    return CardFigures(
        version=version,
        created_at=str(card["created_at"]) if card.get("created_at") else None,
        features=len(card.get("feature_names") or ()),
        trees=None if trees is None else int(trees),
        library=str(model["library"]) if model.get("library") else None,
        test=test,
        scenario_recall=recall,
        holdout=holdout,
        thresholds=_thresholds(card),
        data=dict(_mapping(card.get("data"))),
        folds=[dict(f) for f in folds if isinstance(f, Mapping)] if isinstance(folds, list) else [],
        published=published,
        targets=targets,
    )


def figure_path(registry: Path, version: str, name: str) -> Path | None:
    """The file of figure ``name`` of ``version``, if it is one the console serves and it
    lies inside the registry once every link is resolved; None otherwise (unknown name, a
    version with a path separator or a leading dot, ``..``, a link pointing out)."""
    if name not in FIGURES or not _plain(version):
        return None
    root = registry.resolve()
    try:
        path = (root / version / name).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a link loop
        return None
    if not path.is_relative_to(root) or path.parent.parent != root or not path.is_file():
        return None
    return path


def _plain(version: str) -> bool:
    """A version is one plain path segment: what ``fraudsim.registry.check`` accepts."""
    return (
        bool(version)
        and not version.startswith(".")
        and "/" not in version
        and "\\" not in version
        and "\x00" not in version
    )
