"""Experimental merchant-risk features (opt-in): how much fraud a merchant had a week ago.

Not computed by the live agent yet, so a model using them is staged, never made current
(see ``fraudsim.registry``). The definition, exact both offline and live:

For a transaction at merchant ``m`` in UTC hour ``h`` (epoch ms // 3,600,000) and each
``w`` in 1, 7, 30 days:

- ``merchant_tx_{w}d``: transactions at ``m`` (all accounts) in hours [h-168-24w, h-168),
  i.e. the ``w`` days ending one week (plus the part of the hour gone) before;
- ``merchant_risk_{w}d``: the share of those with a fraud label; 0 when there were none.

Live, a job at the top of each hour counts per merchant from the ledger's transactions and
the ``labels`` topic received so far (``Label.merchant_id``, ``transaction_timestamp``),
publishes the six values per merchant to a compacted topic keyed by merchant id (stamped
with the hour they apply to), and the agents follow it as they follow ``accounts`` and add
the values to each transaction's features before scoring; a merchant absent from the topic
gets zeros. Values depend only on (merchant, hour), so the job and this code agree exactly
as long as every label arrives within 7 days of its transaction (then all labels of the
window are in before hour ``h`` begins): the simulator guarantees it, and it is checked.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from fraudsim.train.data import TrainingData

HOUR_MS: Final = 3_600_000
DELAY_HOURS: Final = 7 * 24
WINDOWS: Final = (1, 7, 30)
NAMES: Final = tuple(f"merchant_{kind}_{w}d" for w in WINDOWS for kind in ("tx", "risk"))
_SPAN: Final = 1 << 32  # hour indices fit below this: keys are merchant * _SPAN + hour


def merchant_risk(data: TrainingData) -> npt.NDArray[np.float32]:
    """The six features of every row, columns in ``NAMES`` order."""
    _check_label_delays(data)
    hour = data.ts_ms // HOUR_MS
    base = data.merchant * _SPAN
    order = np.argsort(base + hour, kind="stable")
    keys = (base + hour)[order]
    # frauds_before[i]: frauds among the first i rows in key order.
    frauds_before = np.concatenate([[0], np.cumsum(data.fraud[order])])
    end = base + hour - DELAY_HOURS
    upper = np.searchsorted(keys, end, side="left")
    out = np.empty((len(data), len(NAMES)), dtype=np.float32)
    for i, w in enumerate(WINDOWS):
        lower = np.searchsorted(keys, end - 24 * w, side="left")
        n = upper - lower
        bad = frauds_before[upper] - frauds_before[lower]
        out[:, 2 * i] = n
        out[:, 2 * i + 1] = np.divide(bad, n, out=np.zeros(len(n)), where=n > 0)
    return out


def _check_label_delays(data: TrainingData) -> None:
    fraud = data.fraud
    late = data.labelled_at_ms[fraud] - data.ts_ms[fraud] > DELAY_HOURS * HOUR_MS
    if late.any():
        raise ValueError(
            "some labels arrive more than 7 days after their transaction: offline merchant "
            "risk would use labels the live job could not have had"
        )
