"""Merchant-risk features offline: the shared definition applied to every training row.

The definition and its code are ``decision_core.features.merchant`` (``window_values``),
which the live hourly job (``sentinel merchant-risk run``) runs too; this module only hands
it one count per transaction. Live, the job counts at the top of hour ``h`` the labels the
ledger holds then (``labelled_at`` before ``h``); offline each fraud counts from the hour
after its ``labelled_at`` too (``HourCounts.per_transaction``), so the two agree whenever
labels arrive, a chargeback weeks late included.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from decision_core.features.merchant import HourCounts, window_values
from fraudsim.train.data import TrainingData
from schemas.features import MERCHANT_FEATURE_NAMES

NAMES: Final = MERCHANT_FEATURE_NAMES


def merchant_risk(data: TrainingData) -> npt.NDArray[np.float32]:
    """The six features of every row, columns in ``NAMES`` order."""
    counts = HourCounts.per_transaction(data.merchant, data.ts_ms, data.fraud, data.labelled_at_ms)
    return window_values(counts, data.merchant, counts.hour).astype(np.float32)
