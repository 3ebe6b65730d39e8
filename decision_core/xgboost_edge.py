"""THE one module that calls libxgboost's C API itself: the scoring of a micro-batch.

Checked against xgboost 3.2.0, the pinned version (``xgboost-cpu==3.2.0``); a unit test
(``tests/unit/decision_core/test_xgboost_edge.py``) fails on any other version. Why
(docs/adr/0009-xgboost-c-api-per-batch.md): an agent worker at a steady rate decides
micro-batches of one to a few dozen transactions, and each batch's three model calls (its
matrix, the margins, the approximate contributions) cost ~200 µs through XGBoost's Python
wrappers against ~50 µs of C work: the wrappers dispatch every input through type checks
for a dozen data libraries, build its array interface and each call's configuration as
JSON, and copy each output through another array interface. That fixed cost was most of a
small batch's model time.

What is here makes exactly the C calls those wrappers make, with the same arguments, so
the outputs are the same bits (the scoring tests compare them with ``Booster.predict``):
``XGDMatrixCreateFromDense`` on a C-contiguous float32 array with ``missing`` NaN and one
thread (what ``xgboost.DMatrix(matrix, missing=nan, nthread=1)`` calls), and
``XGBoosterPredictFromDMatrix`` with the configuration ``Booster.predict`` writes for a
prediction type, not training, all trees, shapes not strict, and ``XGDMatrixSliceDMatrixEx``
for some rows of a matrix (``DMatrix.slice``). Only numpy float32 matrices
(``decision_core.scoring.Model.matrix``) come here.

Internals used: ``xgboost.core._LIB`` (the library xgboost loaded, its handles and error
text) and ``Booster.handle``.
"""

from __future__ import annotations

import ctypes
import json
from importlib.metadata import version
from typing import Any, Final

import numpy as np
import xgboost
from xgboost.core import _LIB, XGBoostError

WRITTEN_FOR: Final = "3.2.0"

# Booster.predict's prediction types (its ``args["type"]``).
VALUE: Final = 0  # the probability, for binary:logistic
MARGIN: Final = 1
CONTRIBUTIONS: Final = 2  # exact TreeSHAP
APPROX_CONTRIBUTIONS: Final = 3  # Saabas

_MATRIX_CONFIG: Final = json.dumps(
    {"missing": float("nan"), "nthread": 1, "data_split_mode": 0}
).encode()
_PREDICT_CONFIGS: Final = {
    kind: json.dumps(
        {
            "type": kind,
            "training": False,
            "iteration_begin": 0,
            "iteration_end": 0,
            "strict_shape": False,
        }
    ).encode()
    for kind in (VALUE, MARGIN, CONTRIBUTIONS, APPROX_CONTRIBUTIONS)
}


def installed_version() -> str:
    return version("xgboost-cpu")


class DenseMatrix:
    """A float32 matrix as libxgboost reads it (a DMatrix of its own, freed with this)."""

    __slots__ = ("rows", "columns", "handle")

    def __init__(self, handle: ctypes.c_void_p, rows: int, columns: int) -> None:
        self.handle, self.rows, self.columns = handle, rows, columns

    @classmethod
    def of(cls, matrix: np.ndarray[Any, Any]) -> DenseMatrix:
        """``matrix`` (2-D float32, NaN missing) copied into libxgboost."""
        if matrix.dtype != np.float32 or matrix.ndim != 2:
            raise TypeError(f"a 2-D float32 matrix is scored, not {matrix.dtype} {matrix.shape}")
        data = np.ascontiguousarray(matrix)  # libxgboost copies it into the DMatrix
        rows, columns = data.shape
        interface = json.dumps(
            {
                "data": [data.ctypes.data, True],
                "shape": [rows, columns],
                "strides": None,
                "typestr": "<f4",
                "version": 3,
            }
        )
        handle = ctypes.c_void_p()
        _check(
            _LIB.XGDMatrixCreateFromDense(interface.encode(), _MATRIX_CONFIG, ctypes.byref(handle))
        )
        return cls(handle, rows, columns)

    def take(self, rows: np.ndarray[Any, Any]) -> DenseMatrix:
        """These rows (``DMatrix.slice``'s call): about half the cost of a matrix built from
        them anew, the same values."""
        index = np.ascontiguousarray(rows, dtype=np.int32)
        handle = ctypes.c_void_p()
        _check(
            _LIB.XGDMatrixSliceDMatrixEx(
                self.handle,
                index.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                ctypes.c_uint64(len(index)),
                ctypes.byref(handle),
                0,  # allow_groups: no ranking groups here
            )
        )
        return DenseMatrix(handle, len(index), self.columns)

    def __del__(self) -> None:
        if getattr(self, "handle", None) and self.handle.value is not None:
            _LIB.XGDMatrixFree(self.handle)
            self.handle = ctypes.c_void_p()


def predict(booster: xgboost.Booster, data: DenseMatrix, kind: int) -> np.ndarray[Any, Any]:
    """``booster.predict(data, ...)`` for one prediction ``kind``: one value a row (VALUE,
    MARGIN), or a row of contributions with the bias last (the contributions kinds)."""
    shape = ctypes.POINTER(ctypes.c_uint64)()
    dims = ctypes.c_uint64()
    found = ctypes.POINTER(ctypes.c_float)()
    _check(
        _LIB.XGBoosterPredictFromDMatrix(
            booster.handle,
            data.handle,
            _PREDICT_CONFIGS[kind],
            ctypes.byref(shape),
            ctypes.byref(dims),
            ctypes.byref(found),
        )
    )
    size = tuple(shape[i] for i in range(dims.value))
    if not data.rows:
        return np.empty(size, dtype=np.float32)
    # The output lives in the booster's buffer until its next prediction: copied out now.
    return np.ctypeslib.as_array(found, size).copy()


def _check(status: int) -> None:
    if status != 0:
        raise XGBoostError(_LIB.XGBGetLastError().decode())
