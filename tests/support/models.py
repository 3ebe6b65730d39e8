"""A tiny XGBoost model over the stream's feature names, published to a registry folder and
announced on a test's models topic.

Tests score with this: large amounts and new countries are "fraud", so scores and reason
codes are predictable. ``rounds`` changes the scores, so two versions can be told apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from decision_core.scoring import publish
from fraudsim.announce import announce
from schemas.connections import KafkaConnection
from schemas.features import FEATURE_NAMES


def train_tiny_model(
    registry: Path,
    version: str = "tiny-1",
    rounds: int = 15,
    card: Mapping[str, Any] | None = None,
) -> str:
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
    booster = xgb.train(params, data, num_boost_round=rounds)
    publish(registry, booster, version, {"feature_names": list(FEATURE_NAMES), **(card or {})})
    return version


def announce_model(prefix: str, version: str | None, role: str = "champion") -> None:
    """Announce ``version`` in ``role`` on the models topic of the test's ``prefix``."""
    announce(KafkaConnection(topic_prefix=prefix), role, version)
