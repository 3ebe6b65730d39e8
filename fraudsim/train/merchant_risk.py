"""Merchant-risk features offline: the shared definition applied to every training row.

The definition and its code are ``decision_core.features.merchant`` (``window_values``),
which the live hourly job (``sentinel merchant-risk run``) runs too; this module only hands
it one count per transaction and checks the one assumption that makes offline and live
agree exactly. Live, the job counts at the top of hour ``h`` the labels the ledger holds
then (``labelled_at`` before ``h``); offline every fraud label counts. The two agree as long
as every label arrives within 7 days of its transaction (then all labels of the window are
in before hour ``h`` begins): the simulator guarantees it, and it is checked here.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from decision_core.features.merchant import DELAY_HOURS, HOUR_MS, HourCounts, window_values
from fraudsim.train.data import TrainingData
from schemas.features import MERCHANT_FEATURE_NAMES

NAMES: Final = MERCHANT_FEATURE_NAMES


def merchant_risk(data: TrainingData) -> npt.NDArray[np.float32]:
    """The six features of every row, columns in ``NAMES`` order."""
    _check_label_delays(data)
    counts = HourCounts.per_transaction(data.merchant, data.ts_ms, data.fraud)
    return window_values(counts, data.merchant, counts.hour).astype(np.float32)


def _check_label_delays(data: TrainingData) -> None:
    fraud = data.fraud
    late = data.labelled_at_ms[fraud] - data.ts_ms[fraud] > DELAY_HOURS * HOUR_MS
    if late.any():
        raise ValueError(
            "some labels arrive more than 7 days after their transaction: offline merchant "
            "risk would use labels the live job could not have had"
        )
