"""`python -m stream_agents run`: one agent worker, with scikit-learn kept out.

xgboost imports scikit-learn (with scipy and pandas) for its sklearn wrappers when it is
installed, which the worker never uses: about a second of each restart on this machine.
This entry keeps it out, and xgboost runs without the wrappers (it checks for the import
failing): ~1 s to start where `sentinel agents run` takes ~3. It cannot live in the CLI,
whose other commands (training) use scikit-learn in the same process. Failover
measurements: docs/agents.md."""

from __future__ import annotations

from decision_core.scoring import without_scikit_learn

without_scikit_learn()  # before anything imports xgboost

from stream_agents.worker import agents_app  # noqa: E402 - after the line above

if __name__ == "__main__":
    agents_app(prog_name="python -m stream_agents")
