"""The scored rows' model inputs: the live agent's features after the warm-up history.

Every row before the end of the range goes through its account's state in the file's order
(``fraudsim.train.features.feature_matrix``); history rows only enter the state, the scored
rows get their features. Merchant risk, when the model reads it, is training's
(``fraudsim.train.merchant_risk``) over the accepted rows: a label counts from the hour
after its ``labelled_at``, as it would have live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from decision_core.scoring import Model
from fraudsim.score.data import Range, ScoreError
from fraudsim.train import merchant_risk
from fraudsim.train.data import TrainingData
from fraudsim.train.features import feature_matrix
from schemas.features import FEATURE_NAMES

Matrix = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Inputs:
    """The scored rows (indices into the data, in order), their features (columns
    ``names``: the account's, then merchant risk when computed), the model's columns among
    them, which rows the live path accepts and each row's home country (for the rules)."""

    rows: Ints
    names: tuple[str, ...]
    features: Matrix
    positions: list[int]
    accepted: Bools
    homes: list[str | None]
    history_rows: int
    history_refused: int

    def model_matrix(self, part: slice) -> Matrix:
        """The accepted rows of ``part`` in the model's column order."""
        chosen = self.features[part][self.accepted[part]]
        return np.ascontiguousarray(chosen[:, self.positions])


def model_inputs(
    data: TrainingData,
    model: Model,
    scored: Range,
    workers: int = 1,
    on_chunk: Callable[[int, int], None] = lambda _done, _total: None,
    merchant: bool = False,
) -> Inputs:
    """``merchant``: compute merchant risk even when the model does not read it (the rules
    may: live, every transaction carries it)."""
    history = scored.history(data.ts_ms)
    features = feature_matrix(data.columns, data.account, workers, on_chunk, history, True)
    rows = np.flatnonzero(~history)
    names: tuple[str, ...] = FEATURE_NAMES
    columns = [features.matrix[rows]]
    if merchant or set(model.feature_names) & set(merchant_risk.NAMES):
        columns.append(_merchant_risk(data, features.accepted)[rows])
        names += merchant_risk.NAMES
    homes = features.homes or []
    return Inputs(
        rows,
        names,
        np.hstack(columns) if len(columns) > 1 else columns[0],
        _positions(model, names),
        features.accepted[rows],
        [homes[i] for i in rows.tolist()],
        int(history.sum()),
        int((history & ~features.accepted).sum()),
    )


def _merchant_risk(data: TrainingData, accepted: Bools) -> Matrix:
    """Every row's merchant risk, NaN for refused rows (which training drops first too)."""
    out = np.full((len(data), len(merchant_risk.NAMES)), np.nan, dtype=np.float32)
    kept = data if accepted.all() else data.accepted_only(accepted)
    out[accepted] = merchant_risk.merchant_risk(kept)
    return out


def _positions(model: Model, names: tuple[str, ...]) -> list[int]:
    """Where each of the model's features is among the computed ones."""
    unknown = [name for name in model.feature_names if name not in names]
    if unknown:
        raise ScoreError(f"model {model.version} reads features no one computes: {unknown}")
    return [names.index(name) for name in model.feature_names]
