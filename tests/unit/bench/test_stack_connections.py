"""Every benchmark that talks to a service takes the local stack's connections from
``bench.common``: ``sentinel stack up`` generates the passwords into ``.stack/sentinel.env``,
and a benchmark that skips it fails its first login (bench_ingest, bench_sink, bench_dlq and
bench_merchant_risk did, run on their own)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.deployment import REPO

BENCH = REPO / "bench"
# What reaches a service: the connection settings, the Kafka clients, a database driver.
SERVICE_MODULES = {"schemas.connections", "schemas.kafka_edge", "psycopg", "redis"}
# Started by another benchmark, whose environment (connections included) it inherits.
CHILDREN = {"replay_child.py"}


def imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules() -> list[Path]:
    return sorted(p for p in BENCH.glob("*.py") if p.name not in ("__init__.py", "common.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_a_benchmark_that_reaches_a_service_imports_the_stack_connections(path: Path) -> None:
    names = imported(ast.parse(path.read_text()))
    if names & SERVICE_MODULES and path.name not in CHILDREN:
        assert any(n == "bench.common" or n.startswith("bench.common.") for n in names), (
            f"{path.name} reaches a service without bench.common's stack connections"
        )
