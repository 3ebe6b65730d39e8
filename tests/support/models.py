"""A tiny XGBoost model over the stream's feature names, published to a registry folder and
announced on a test's models topic.

Tests score with this: large amounts and new countries are "fraud", so scores and reason
codes are predictable. ``rounds`` changes the scores, so two versions can be told apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from decision_core.scoring import publish
from fraudsim.announce import announce
from fraudsim.train.model import DEFAULT
from schemas.connections import KafkaConnection
from schemas.features import FEATURE_NAMES

# Hyper-parameters for tests of what a training run publishes (registry, cards, promotion,
# announcements), not of how well its model does: the validated default's 300 rounds of
# depth 9 on 4096 bins are most of a run's time. QUICK_TRAINING: the same as `sentinel train`
# options.
QUICK_PARAMS = dataclasses.replace(DEFAULT, max_depth=4, eta=0.3, rounds=20, max_bin=256)
QUICK_TRAINING = [
    *("--max-depth", str(QUICK_PARAMS.max_depth)),
    *("--eta", str(QUICK_PARAMS.eta)),
    *("--rounds", str(QUICK_PARAMS.rounds)),
    *("--max-bin", str(QUICK_PARAMS.max_bin)),
]


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


def card_like_training(seed: int) -> dict[str, Any]:
    """The sections of a training run's card (fraudsim/train/card.py) the console shows,
    with made-up figures that differ by ``seed``."""
    shift = seed / 100
    return {
        "created_at": f"2026-12-0{seed}T10:00:00+00:00",
        "model": {"library": "xgboost", "params": {}, "trees": 15},
        "data": {"transactions": 4000, "frauds": 400 + seed, "days": 70},
        "validation": {
            "test_metrics": {
                "auc_roc": {"mean": 0.88 + shift, "std": 0.004},
                "average_precision": {"mean": 0.70 + shift, "std": 0.03},
                "card_precision_at_100": {"mean": 0.29 + shift, "std": 0.02},
                "recall_card_testing": {"mean": 0.61, "std": 0.05},
            },
            "test_folds": [
                {
                    "start_day": 42,
                    "test_rows": 27000,
                    "test_frauds": 700,
                    "auc_roc": 0.89,
                    "average_precision": 0.71,
                    "card_precision_at_100": 0.3,
                },
            ],
        },  # fmt: skip
        "holdout": {"auc_roc": 0.92, "average_precision": 0.80},
        "thresholds": {
            "review_at": 0.6,
            "decline_at": 0.9,
            "review_rate": 0.01,
            "review_precision": 0.95,
            "review_recall": 0.4,
            "decline_rate": 0.004,
            "decline_precision": 0.99,
            "decline_recall": 0.2,
        },  # fmt: skip
        "published_reference": {"auc_roc": [0.869, 0.872]},
        "targets": {"average_precision": 0.7},
    }


def draw_pr_curve(directory: Path, seed: int) -> Path:
    """A precision-recall figure drawn by training's own plotting code, from random scores."""
    from fraudsim.train.evaluate import FoldResult
    from fraudsim.train.plots import pr_curves

    rng = np.random.default_rng(seed)
    fraud = rng.random(2000) < 0.1
    score = np.clip(fraud * 0.5 + rng.random(2000) * 0.6, 0, 1)
    fold = FoldResult(42, 1000, 2000, int(fraud.sum()), 0.9, 0.7, 0.3, {}, fraud, score)
    return pr_curves([fold], directory / "pr_curve.png", "2026-10-01")
