"""Scoring a micro-batch: scores and reason codes equal a row-by-row computation, and
reasons are exact TreeSHAP only for the rows asked for (``exact_reasons``: where the model is
why a payment stops), approximated for the others."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from decision_core.records import Judgement
from decision_core.scoring import REASONS_PER_DECISION, Model, Scored, exact_reasons
from schemas.enums import Outcome
from schemas.features import FEATURE_NAMES
from schemas.records import ReasonCode
from tests.support.models import train_tiny_model


@pytest.fixture(scope="module")
def model() -> Model:
    """A model whose trees split on many features, so that rows have three reasons or fewer."""
    rng = np.random.default_rng(5)
    matrix = rng.gamma(2.0, 5.0, size=(3000, len(FEATURE_NAMES))).astype(np.float32)
    weights = rng.normal(0.0, 1.0, len(FEATURE_NAMES))
    labels = (matrix @ weights > np.quantile(matrix @ weights, 0.9)).astype(np.float32)
    data = xgb.DMatrix(matrix, label=labels, feature_names=list(FEATURE_NAMES))
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "nthread": 1}
    booster = xgb.train(params, data, num_boost_round=30)
    booster.set_param({"nthread": 1})
    return Model(booster, "test-1", FEATURE_NAMES)


def row_by_row(model: Model, rows: list[dict[str, float]], approx: bool = False) -> list[Scored]:
    """The plain reading of the contract, one row at a time: numpy scalars, a sort per row."""
    matrix = model.matrix(rows)
    data = xgb.DMatrix(matrix, missing=math.nan, feature_names=list(model.feature_names))
    contributions = model.booster.predict(data, pred_contribs=True, approx_contribs=approx)
    scores = 1.0 / (1.0 + np.exp(-model.booster.predict(data, output_margin=True)))
    out = []
    for i in range(len(rows)):
        row = contributions[i, :-1]
        top = np.argsort(-row)[:REASONS_PER_DECISION]
        reasons = tuple(
            ReasonCode(
                feature=model.feature_names[j],
                value=float(matrix[i, j]),
                contribution=float(row[j]),
            )
            for j in top
            if row[j] > 0
        )
        out.append(Scored(float(scores[i]), reasons))
    return out


def varied_rows() -> list[dict[str, float]]:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(300):
        row = {name: float(rng.gamma(2.0, 5.0)) for name in FEATURE_NAMES}
        if i % 7 == 0:
            row["new_device"] = math.nan
        if i % 11 == 0:
            del row["secs_since_prev"]  # absent: NaN in the matrix
        rows.append(row)
    rows += [dict(rows[5]) for _ in range(3)]  # identical rows
    rows.append(dict.fromkeys(FEATURE_NAMES, 1.0))  # equal values: ties among contributions
    return rows


def test_batch_scores_and_reasons_equal_the_row_by_row_reading(model: Model) -> None:
    rows = varied_rows()
    scored = model.score(rows)
    assert scored == row_by_row(model, rows)
    assert max(len(s.reasons) for s in scored) == REASONS_PER_DECISION
    assert all(type(r.value) is float and type(r.contribution) is float
               for s in scored for r in s.reasons)  # fmt: skip


def test_an_empty_batch_scores_nothing(model: Model) -> None:
    assert model.score([]) == []


def test_reasons_are_exact_where_asked_and_approximated_elsewhere(model: Model) -> None:
    rows = varied_rows()
    exact = [i % 3 == 0 for i in range(len(rows))]
    assessment = model.assess(rows)
    reasons = assessment.reasons(exact)
    by_shap = row_by_row(model, rows)
    by_path = row_by_row(model, rows, approx=True)
    assert assessment.scores == [s.score for s in by_shap]
    assert reasons == [
        (shap if wanted else path).reasons
        for shap, path, wanted in zip(by_shap, by_path, exact, strict=True)
    ]
    # The two methods differ (else the test would not tell them apart).
    assert sum(a.reasons != b.reasons for a, b in zip(by_shap, by_path, strict=True)) > 10


@pytest.mark.parametrize(
    ("outcome", "score_flagged", "exact"),
    [
        (Outcome.APPROVE, False, False),
        (Outcome.REVIEW, False, False),  # a rule's review: the rule hit says why
        (Outcome.REVIEW, True, True),
        (Outcome.DECLINE, False, True),  # a rule's decline: cardholders are told why
        (Outcome.DECLINE, True, True),
    ],
)
def test_exact_reasons_where_the_model_is_why_a_payment_stops(
    outcome: Outcome, score_flagged: bool, exact: bool
) -> None:
    judgement = Judgement(outcome, 0.5, score_flagged=score_flagged)
    assert exact_reasons([judgement]) == [exact]


def test_both_attributions_add_up_to_the_margin(model: Model) -> None:
    rows = varied_rows()
    matrix = model.matrix(rows)
    data = xgb.DMatrix(matrix, missing=math.nan, feature_names=list(model.feature_names))
    margins = model.booster.predict(data, output_margin=True)
    bias = model.booster.predict(data, pred_contribs=True)[:, -1]
    for exact in (True, False):
        parts = model.contributions(matrix, [exact] * len(rows))
        assert np.allclose(parts.sum(axis=1) + bias, margins, atol=1e-4)


def test_a_model_whose_card_names_other_columns_does_not_load(tmp_path: Path) -> None:
    # The per-batch predictions skip XGBoost's own feature check: load makes it once.
    train_tiny_model(tmp_path, card={"feature_names": list(reversed(FEATURE_NAMES))})
    with pytest.raises(ValueError, match="feature names differ"):
        Model.load(next(tmp_path.rglob("card.json")).parent)
    good = tmp_path / "good"
    train_tiny_model(good, version="tiny-2")
    assert Model.load(next(good.rglob("card.json")).parent).feature_names == FEATURE_NAMES
