"""XGBoost scoring in micro-batches, with reason codes from the model's own contributions.

A model is a versioned artifact directory: ``model.ubj`` (XGBoost's binary JSON) and
``card.json`` (version, the ordered feature names, thresholds, metrics). A registry is a
folder of such directories plus a ``CURRENT`` file naming the champion. Running agents learn
the champion and challenger from the ``models`` topic (``decision_core.live_models``);
``ModelRegistry`` follows ``CURRENT`` for offline tools (replay, tests).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from decision_core.records import Judgement
from rule_engine import Thresholds
from schemas.enums import Outcome
from schemas.records import ReasonCode

if TYPE_CHECKING:
    import xgboost as xgb

    from decision_core.xgboost_edge import DenseMatrix

# xgboost is imported where a model is loaded or read, not with this module: its import
# (scikit-learn and scipy with it when installed) is ~2 s of CPU that every process naming
# the registry paid (the console, `sentinel models`), most of which never load a model.

CURRENT = "CURRENT"
REASONS_PER_DECISION = 3


def without_scikit_learn() -> None:
    """Keep scikit-learn out of this process. xgboost imports it (with scipy) for its
    sklearn wrappers when it is installed, ~1 s of CPU at xgboost's first import here, and
    goes without them when the import fails, which ``None`` in ``sys.modules`` makes it do.
    For processes that score and never train (the agent worker's entry point, replay's
    worker processes); call it before anything imports xgboost."""
    sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]


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
        # Loaded by now (the booster is xgboost's); imported here, not per batch.
        from decision_core import xgboost_edge

        self._edge = xgboost_edge
        self.booster = booster
        self.version = version
        self.feature_names = tuple(feature_names)
        self.card: Mapping[str, Any] = card or {}
        self._columns = booster.num_features()

    @classmethod
    def load(cls, directory: Path) -> Model:
        import xgboost as xgb

        card = json.loads((directory / "card.json").read_text())
        booster = xgb.Booster()
        booster.load_model(str(directory / "model.ubj"))
        # One thread: the agent scores small batches; XGBoost's thread pool would only add
        # start-up cost per call and fight the event loop for the same cores.
        booster.set_param({"nthread": 1})
        names = card["feature_names"]
        # Checked once here, so the per-batch calls can skip XGBoost's own check: the
        # matrix's columns are the card's names, in the card's order.
        if booster.feature_names is not None and list(booster.feature_names) != list(names):
            raise ValueError(f"{directory}: the card's feature names differ from the model's")
        return cls(booster, str(card["version"]), names, card)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray[Any, Any]:
        """Rows of named features as the model's column order; absent features are NaN."""
        names = self.feature_names
        return np.array([[row.get(n, math.nan) for n in names] for row in rows], dtype=np.float32)

    def score(self, rows: Sequence[Mapping[str, float]]) -> list[Scored]:
        """Score a micro-batch with exact reasons for every row (offline tools and tests;
        the agents explain per outcome: ``assess``)."""
        assessment = self.assess(rows)
        reasons = assessment.reasons([True] * len(rows))
        return [Scored(s, r) for s, r in zip(assessment.scores, reasons, strict=True)]

    def assess(self, rows: Sequence[Mapping[str, float]]) -> Assessment:
        """A micro-batch's probabilities; its reasons follow once the outcomes are known
        (``Assessment.reasons``), from the same matrix.

        One libxgboost matrix per batch serves both, built and read through its C API
        (``decision_core.xgboost_edge``): the three calls of a small batch cost ~200 µs
        through XGBoost's Python wrappers, most of it fixed per call, ~70 µs there. The
        outputs are the same bits as ``Booster.predict``'s on a DMatrix of the rows."""
        return self.assess_matrix(self.matrix(rows))

    def assess_matrix(self, matrix: np.ndarray[Any, Any]) -> Assessment:
        """``assess`` of rows already in the model's column order (float32, NaN missing):
        offline scoring (``fraudsim.score``) holds its features as a matrix."""
        if not len(matrix):
            return Assessment(self, matrix, None, [])
        data = self._data(matrix)
        margins = self._edge.predict(self.booster, data, self._edge.MARGIN)
        return Assessment(self, matrix, data, (1.0 / (1.0 + np.exp(-margins))).tolist())

    def _data(self, matrix: np.ndarray[Any, Any]) -> DenseMatrix:
        """The matrix the predictions read.

        Its width is checked here: unlike ``inplace_predict``, a prediction on a DMatrix
        scores a matrix narrower than the model without a word (the missing columns as
        missing)."""
        if matrix.shape[1] != self._columns:
            raise ValueError(
                f"model {self.version} reads {self._columns} features, given {matrix.shape[1]}"
            )
        return self._edge.DenseMatrix.of(matrix)

    def probabilities(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """Only the probabilities of a micro-batch, in one call (a shadow model needs no
        reasons, and a plain prediction is cheaper than the contributions); bit-identical to
        ``inplace_predict``'s, a fixed ~150 µs a call cheaper (``assess``)."""
        if not rows:
            return []
        found = self._edge.predict(self.booster, self._data(self.matrix(rows)), self._edge.VALUE)
        return [float(p) for p in found]

    def contributions(
        self, matrix: np.ndarray[Any, Any], exact: Sequence[bool], data: DenseMatrix | None = None
    ) -> np.ndarray[Any, Any]:
        """Each row's per-feature contributions to its margin (bias column dropped): exact
        TreeSHAP where ``exact``, Saabas' path attribution (``approx_contribs``) elsewhere.
        ``data``: ``matrix`` as libxgboost reads it already (``assess`` built it).

        Exact TreeSHAP costs O(trees x leaves x depth^2) per row: about 1 ms for training's
        default model (depth 9, 300 rounds) against ~30 us approximated and ~1 us for the
        probability, measured here (README, "Reason codes"). Both sum to the margin. The
        approximation is taken for every row of the batch in one call on its matrix (a
        row's contributions do not depend on the others'), the exact ones then replace it
        where wanted, from those rows of the batch's matrix (a slice: half the cost of a
        matrix built from them, the same bits).
        """
        wanted = np.flatnonzero(np.asarray(exact, dtype=bool))
        whole = self._data(matrix) if data is None else data
        if len(wanted) == len(matrix):
            return self._contribs(whole, approx=False)
        out = self._contribs(whole, approx=True)
        if wanted.size:
            out[wanted] = self._contribs(whole.take(wanted), approx=False)
        return out

    def _contribs(self, data: DenseMatrix, approx: bool) -> np.ndarray[Any, Any]:
        edge = self._edge
        kind = edge.APPROX_CONTRIBUTIONS if approx else edge.CONTRIBUTIONS
        found: np.ndarray[Any, Any] = edge.predict(self.booster, data, kind)
        return found[:, :-1]

    def reasons(
        self, values: np.ndarray[Any, Any], contributions: np.ndarray[Any, Any]
    ) -> list[tuple[ReasonCode, ...]]:
        """Each row's reasons: the features that pushed hardest towards fraud, strongest
        first (only those that pushed towards it at all).

        One argsort and one conversion to Python floats for the whole batch: indexing numpy
        row by row (scalars, per-row sorts) cost more than a small model's call itself. The sort is
        the same per-row quicksort as ``np.argsort`` of each row, ties included.
        """
        if not len(values):
            return []
        top = np.argsort(-contributions, axis=1)[:, :REASONS_PER_DECISION]
        top_values = np.take_along_axis(values, top, axis=1).tolist()
        top_contributions = np.take_along_axis(contributions, top, axis=1).tolist()
        names = self.feature_names
        return [
            tuple(
                ReasonCode(feature=names[i], value=value, contribution=contribution)
                for i, value, contribution in zip(
                    columns, row_values, row_contributions, strict=True
                )
                if contribution > 0
            )
            for columns, row_values, row_contributions in zip(
                top.tolist(), top_values, top_contributions, strict=True
            )
        ]


def exact_reasons(judgements: Sequence[Judgement]) -> list[bool]:
    """Which rows get exact TreeSHAP reasons: those where the model is why a payment stops.

    Every DECLINE (cardholders are told why), and every REVIEW the risk score itself
    reached. A REVIEW only a rule asked for (its score below ``review_at``) is explained by
    that rule's hit, recorded beside it, and gets the approximation like approvals: exact
    TreeSHAP costs ~1 ms a row with training's default model (more with a larger one), so a
    review rule an analyst makes live that fires on half the traffic would otherwise
    multiply the agents' CPU several times over (docs/agents.md#reason-codes)."""
    return [
        j.outcome is Outcome.DECLINE or (j.outcome is Outcome.REVIEW and j.score_flagged)
        for j in judgements
    ]


@dataclass(frozen=True, slots=True)
class Assessment:
    """A micro-batch scored by one model, its reasons not yet computed."""

    model: Model
    matrix: np.ndarray[Any, Any]
    data: DenseMatrix | None  # the matrix as libxgboost reads it; None for an empty batch
    scores: list[float]

    def reasons(self, exact: Sequence[bool]) -> list[tuple[ReasonCode, ...]]:
        """Each row's top reasons; ``exact`` rows by TreeSHAP, the others approximated."""
        if not self.scores:
            return []
        contributions = self.model.contributions(self.matrix, exact, self.data)
        return self.model.reasons(self.matrix, contributions)


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
