"""XGBoost scoring in micro-batches, with reason codes from the model's own contributions.

A model is a versioned artifact directory: ``model.ubj`` (XGBoost's binary JSON) and
``card.json`` (version, the ordered feature names, thresholds, metrics). A registry is a
folder of such directories plus a ``CURRENT`` file naming the champion. Running agents learn
the champion and challenger from the ``models`` topic (``stream_agents.live_models``);
``ModelRegistry`` follows ``CURRENT`` for offline tools (replay, tests).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import xgboost as xgb

from rule_engine import Thresholds
from schemas.records import ReasonCode

CURRENT = "CURRENT"
REASONS_PER_DECISION = 3


@dataclass(frozen=True, slots=True)
class Scored:
    """One row's probability of fraud and its strongest reasons."""

    score: float
    reasons: tuple[ReasonCode, ...]


class Model:
    """A loaded artifact: the booster, its version and the feature order it was trained on."""

    def __init__(
        self,
        booster: xgb.Booster,
        version: str,
        feature_names: Sequence[str],
        card: Mapping[str, Any] | None = None,
    ) -> None:
        self.booster = booster
        self.version = version
        self.feature_names = tuple(feature_names)
        self.card: Mapping[str, Any] = card or {}
        self._names = list(self.feature_names)

    @classmethod
    def load(cls, directory: Path) -> Model:
        card = json.loads((directory / "card.json").read_text())
        booster = xgb.Booster()
        booster.load_model(str(directory / "model.ubj"))
        # One thread: the agent scores small batches; XGBoost's thread pool would only add
        # start-up cost per call and fight the event loop for the same cores.
        booster.set_param({"nthread": 1})
        return cls(booster, str(card["version"]), card["feature_names"], card)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray[Any, Any]:
        """Rows of named features as the model's column order; absent features are NaN."""
        names = self.feature_names
        return np.array([[row.get(n, math.nan) for n in names] for row in rows], dtype=np.float32)

    def score(self, rows: Sequence[Mapping[str, float]]) -> list[Scored]:
        """Score a micro-batch in one call.

        ``pred_contribs`` gives each feature's additive share of the margin (plus a bias
        column); their sum is the margin itself, so the probability comes from the same call
        instead of a second prediction.
        """
        if not rows:
            return []
        matrix = self.matrix(rows)
        contributions = self.booster.predict(
            xgb.DMatrix(matrix, missing=math.nan, nthread=1, feature_names=self._names),
            pred_contribs=True,
        )
        margins = contributions.sum(axis=1)
        scores = 1.0 / (1.0 + np.exp(-margins))
        return self._scored(scores, matrix, contributions[:, :-1])

    def probabilities(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """Only the probabilities of a micro-batch, in one call (a shadow model needs no
        reasons, and a plain prediction is cheaper than the contributions)."""
        if not rows:
            return []
        matrix = xgb.DMatrix(
            self.matrix(rows), missing=math.nan, nthread=1, feature_names=self._names
        )
        return [float(p) for p in self.booster.predict(matrix)]

    def _scored(
        self,
        scores: np.ndarray[Any, Any],
        values: np.ndarray[Any, Any],
        contributions: np.ndarray[Any, Any],
    ) -> list[Scored]:
        """Each row's score and reasons: the features that pushed hardest towards fraud,
        strongest first (only those that pushed towards it at all).

        One argsort and one conversion to Python floats for the whole batch: indexing numpy
        row by row (scalars, per-row sorts) cost more than a small model's call itself. The sort is
        the same per-row quicksort as ``np.argsort`` of each row, ties included.
        """
        top = np.argsort(-contributions, axis=1)[:, :REASONS_PER_DECISION]
        top_values = np.take_along_axis(values, top, axis=1).tolist()
        top_contributions = np.take_along_axis(contributions, top, axis=1).tolist()
        names = self.feature_names
        return [
            Scored(
                score,
                tuple(
                    ReasonCode(feature=names[i], value=value, contribution=contribution)
                    for i, value, contribution in zip(
                        columns, row_values, row_contributions, strict=True
                    )
                    if contribution > 0
                ),
            )
            for score, columns, row_values, row_contributions in zip(
                scores.tolist(), top.tolist(), top_values, top_contributions, strict=True
            )
        ]


@dataclass(frozen=True, slots=True)
class LiveModels:
    """What one micro-batch is scored with: replaced whole, never changed in place, so a batch
    reads one consistent set. ``thresholds`` None leaves the judge its own."""

    champion: Model | None = None
    challenger: Model | None = None
    thresholds: Thresholds | None = None


class ModelSource(Protocol):
    """Where the pipeline takes each batch's models from (the topic's book, or a folder)."""

    def live(self) -> LiveModels: ...


class ModelRegistry:
    """Follows a registry folder's ``CURRENT`` pointer, checking at most every interval.

    For offline tools and tests; running agents follow the ``models`` topic instead.
    """

    def __init__(self, root: Path | None, check_interval_s: float = 5.0) -> None:
        self.root = root
        self.check_interval_s = check_interval_s
        self._model: Model | None = None
        self._pointer: str | None = None
        self._checked_at = -math.inf

    def current(self) -> Model | None:
        """The live model (None when no model is registered yet)."""
        now = time.monotonic()
        if self.root is not None and now - self._checked_at >= self.check_interval_s:
            self._checked_at = now
            self._refresh(self.root)
        return self._model

    def live(self) -> LiveModels:
        """The current model as champion, no challenger, the judge's own thresholds."""
        return LiveModels(self.current())

    def _refresh(self, root: Path) -> None:
        try:
            pointer = (root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return
        if pointer and pointer != self._pointer:
            self._model = Model.load(root / pointer)
            self._pointer = pointer


def publish(root: Path, booster: xgb.Booster, version: str, card: Mapping[str, Any]) -> Path:
    """Write an artifact and make it current (used by training and by tests)."""
    directory = root / version
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / "model.ubj"))
    (directory / "card.json").write_text(json.dumps({**card, "version": version}, indent=2))
    pointer = root / f".{CURRENT}.tmp"
    pointer.write_text(version)
    pointer.replace(root / CURRENT)  # atomic: a reader sees the old or the new version
    return directory
