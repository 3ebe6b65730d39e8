"""libxgboost's C API as the scoring calls it (``decision_core.xgboost_edge``): the same
bits as XGBoost's own ``Booster.predict`` for every prediction kind, only on the version it
was written against."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xgboost as xgb

from decision_core import xgboost_edge
from decision_core.xgboost_edge import DenseMatrix, predict

COLUMNS = 12


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    rng = np.random.default_rng(11)
    matrix = rng.normal(size=(2000, COLUMNS)).astype(np.float32)
    labels = (matrix[:, 0] + matrix[:, 3] * matrix[:, 5] > 0.8).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 5, "eta": 0.3, "nthread": 1}
    return xgb.train(params, xgb.DMatrix(matrix, label=labels), num_boost_round=20)


def rows(count: int) -> np.ndarray:
    rng = np.random.default_rng(count)
    matrix = rng.normal(size=(count, COLUMNS)).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.2] = np.nan  # missing values take the default branch
    return matrix


def test_it_runs_on_the_xgboost_it_was_written_for() -> None:
    # Another version may write its configuration, outputs or handles differently: check
    # the calls against its Booster.predict, then move WRITTEN_FOR (docs/adr/0009).
    assert xgboost_edge.installed_version() == xgboost_edge.WRITTEN_FOR


@pytest.mark.parametrize("count", [1, 2, 7, 300])
@pytest.mark.parametrize(
    ("kind", "options"),
    [
        (xgboost_edge.VALUE, {}),
        (xgboost_edge.MARGIN, {"output_margin": True}),
        (xgboost_edge.CONTRIBUTIONS, {"pred_contribs": True}),
        (xgboost_edge.APPROX_CONTRIBUTIONS, {"pred_contribs": True, "approx_contribs": True}),
    ],
)
def test_each_prediction_is_the_same_bits_as_booster_predict(
    booster: xgb.Booster, count: int, kind: int, options: dict[str, bool]
) -> None:
    matrix = rows(count)
    expected = booster.predict(xgb.DMatrix(matrix, missing=math.nan, nthread=1), **options)
    found = predict(booster, DenseMatrix.of(matrix), kind)
    assert found.dtype == expected.dtype == np.float32
    assert found.shape == expected.shape
    assert found.tobytes() == expected.tobytes()


def test_a_matrix_that_is_not_contiguous_is_read_as_its_values(booster: xgb.Booster) -> None:
    matrix = rows(40)
    picked = matrix[::3]  # a view with strides, as a selection of a batch's rows can be
    assert not picked.flags.c_contiguous
    expected = predict(booster, DenseMatrix.of(np.ascontiguousarray(picked)), xgboost_edge.MARGIN)
    assert predict(booster, DenseMatrix.of(picked), xgboost_edge.MARGIN).tobytes() == (
        expected.tobytes()
    )


@pytest.mark.parametrize("kind", [xgboost_edge.CONTRIBUTIONS, xgboost_edge.APPROX_CONTRIBUTIONS])
def test_rows_taken_from_a_matrix_predict_as_a_matrix_of_those_rows(
    booster: xgb.Booster, kind: int
) -> None:
    matrix = rows(30)
    wanted = np.array([0, 4, 17, 29])
    taken = DenseMatrix.of(matrix).take(wanted)
    assert taken.rows == len(wanted)
    expected = predict(booster, DenseMatrix.of(matrix[wanted]), kind)
    assert predict(booster, taken, kind).tobytes() == expected.tobytes()


def test_only_float32_matrices_are_scored() -> None:
    with pytest.raises(TypeError, match="float32"):
        DenseMatrix.of(rows(3).astype(np.float64))
    with pytest.raises(TypeError, match="float32"):
        DenseMatrix.of(np.zeros(COLUMNS, dtype=np.float32))


def test_an_error_in_libxgboost_is_raised_with_its_message(booster: xgb.Booster) -> None:
    wider = np.zeros((2, COLUMNS + 3), dtype=np.float32)
    with pytest.raises(xgb.core.XGBoostError):
        predict(booster, DenseMatrix.of(wider), xgboost_edge.MARGIN)
