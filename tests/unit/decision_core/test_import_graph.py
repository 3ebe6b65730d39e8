"""The decision code stays pure, and only the agents' own code imports the agents.

Checked on the real import graph: every module of ``decision_core`` is imported in a fresh
interpreter and none of the service libraries may be loaded afterwards; the project's other
packages are read with ``ast`` for imports of ``stream_agents``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Kafka (and faust's own ``mode``), HTTP, databases and metrics: the edges of the services.
SERVICE_LIBRARIES = (
    "faust",
    "mode",
    "aiokafka",
    "confluent_kafka",
    "psycopg",
    "psycopg_pool",
    "redis",
    "httpx",
    "fastapi",
    "starlette",
    "uvicorn",
    "prometheus_client",
)
# The project's packages that must decide through decision_core, never through the agents.
NOT_AGENTS = (
    "schemas",
    "rule_engine",
    "ingest_api",
    "ledger_sink",
    "deploy",
    "fraudsim",
    "dlq",
    "replay",
    "decision_core",
    "bench",
)
# Benchmarks of the agents' own processes, as the tests that run real workers: they measure
# stream_agents itself, not the decision code.
MEASURE_THE_AGENTS = {
    "bench/bench_agents.py": "runs agent workers and reports the batch wait they ran with",
    "bench/bench_merchant_risk.py": "times the merchant-risk job's query, values and publish",
    "bench/bench_claims.py": "times the agents' transaction id claims against Redis",
}

# Imports every module of a package in this interpreter; prints the modules found and the
# top-level names of those of argv[2:] that are loaded afterwards.
PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
found = [m.name for m in pkgutil.walk_packages(package.__path__, sys.argv[1] + ".")]
for name in found:
    importlib.import_module(name)
loaded = {name.partition(".")[0] for name in sys.modules}
print(json.dumps({"modules": found, "loaded": sorted(loaded & set(sys.argv[2:]))}))
"""


def import_all(package: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, package, *SERVICE_LIBRARIES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_decision_core_loads_no_service_library() -> None:
    found = import_all("decision_core")
    assert {"decision_core.pipeline", "decision_core.features.compute"} <= set(found["modules"])
    assert found["loaded"] == []


def test_the_probe_sees_a_service_library_when_one_is_loaded() -> None:
    # Without this, a probe that saw nothing would pass the test above too.
    assert {"faust", "prometheus_client"} <= set(import_all("stream_agents")["loaded"])


def stream_agents_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return [n for n in names if n == "stream_agents" or n.startswith("stream_agents.")]


@pytest.mark.parametrize("package", NOT_AGENTS)
def test_nothing_outside_the_agents_imports_them(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}: no source found"
    offenders = {
        rel: found
        for path in files
        if (rel := path.relative_to(ROOT).as_posix()) not in MEASURE_THE_AGENTS
        and (found := stream_agents_imports(path))
    }
    assert offenders == {}


def test_the_benchmarks_allowed_the_agents_still_need_them() -> None:
    # An exception nobody needs any more is removed, not kept as a hole.
    for rel in MEASURE_THE_AGENTS:
        assert stream_agents_imports(ROOT / rel), f"{rel} no longer imports stream_agents"
