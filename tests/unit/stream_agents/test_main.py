"""`python -m stream_agents`: the worker's lean entry point."""

from __future__ import annotations

import subprocess
import sys


def test_the_worker_entry_keeps_scikit_learn_out_and_xgboost_works_without_it() -> None:
    code = (
        "import sys, stream_agents.__main__, xgboost.compat as c;"
        "print(sys.modules.get('sklearn') is None, c.SKLEARN_INSTALLED)"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]


def test_the_worker_entry_runs_the_agents_commands() -> None:
    out = subprocess.run(  # noqa: S603 - this interpreter
        [sys.executable, "-m", "stream_agents", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Run one agent worker" in out.stdout
