"""Replay's worker processes keep scikit-learn out, as the agent worker does: they only
score, and xgboost's import of it is ~1 s of each worker's start."""

from __future__ import annotations

import subprocess
import sys


def test_a_replay_worker_keeps_scikit_learn_out_and_xgboost_works_without_it() -> None:
    code = (
        "import sys; from replay.runner import _init; _init(None);"
        "import xgboost.compat as c;"
        "print(sys.modules.get('sklearn') is None, c.SKLEARN_INSTALLED)"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]
