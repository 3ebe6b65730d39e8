"""A tiny XGBoost model over the stream's feature names, published to a registry folder.

Until the training pipeline lands, tests score with this: large amounts and new countries
are "fraud", so scores and reason codes are predictable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xgboost as xgb

from schemas.features import FEATURE_NAMES
from stream_agents.scoring import publish


def train_tiny_model(registry: Path, version: str = "tiny-1") -> str:
    rng = np.random.default_rng(7)
    rows = 4000
    matrix = np.zeros((rows, len(FEATURE_NAMES)), dtype=np.float32)
    amount = FEATURE_NAMES.index("amount")
    new_country = FEATURE_NAMES.index("new_country")
    matrix[:, amount] = rng.uniform(1, 20_000, rows)
    matrix[:, new_country] = rng.integers(0, 2, rows)
    labels = (matrix[:, amount] > 10_000) & (matrix[:, new_country] == 1)
    data = xgb.DMatrix(matrix, label=labels.astype(np.float32), feature_names=list(FEATURE_NAMES))
    params = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5, "nthread": 1}
    booster = xgb.train(params, data, num_boost_round=15)
    publish(registry, booster, version, {"feature_names": list(FEATURE_NAMES)})
    return version
