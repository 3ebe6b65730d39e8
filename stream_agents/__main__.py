"""`python -m stream_agents run`: one agent worker, started without the rest of the CLI.

`sentinel agents run` imports every part's commands first (the API, the sink, replay,
training...): 3 to 4 s of a restart on this machine, where this entry needs about one. Of
that, xgboost's import of scikit-learn (with scipy and pandas) took a second for its
sklearn wrappers, which the worker never uses: scikit-learn is kept out, xgboost then runs
without them (it checks for the import failing). Failover measurements: docs/agents.md.
"""

from __future__ import annotations

import sys

# Before anything imports xgboost. None in sys.modules makes `import sklearn` fail.
sys.modules.setdefault("sklearn", None)  # type: ignore[arg-type]

from stream_agents.worker import agents_app  # noqa: E402 - after the line above

if __name__ == "__main__":
    agents_app(prog_name="python -m stream_agents")
