"""What the benchmarks share: their producer, the seed reference data they publish, how
they write their results (``bench/results/*.json``, stamped with the time and the core
count) and how they are run (``run_bench``: stopped by SIGTERM, they clean up as on Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import typer
from confluent_kafka import Producer
from rich.console import Console
from rich.table import Table

from deploy.local import envfile
from rule_engine import load_seed_lists, load_seed_rules
from schemas import kafka_edge
from schemas.codec import encode_named_list, encode_rule
from schemas.connections import KafkaConnection
from schemas.enums import RuleMode
from schemas.records import NamedList, Rule
from schemas.topics import LISTS, RULES

console = Console()


def use_stack_connections() -> None:
    """The local stack's addresses and passwords (``sentinel stack up`` generates the
    passwords into ``.stack/sentinel.env``) unless the environment names them, and nothing
    else of that file, as the test suites read it: each benchmark names its own topics,
    database and settings, and the processes it starts inherit this environment."""
    for name, value in envfile.connection_values().items():
        os.environ.setdefault(name, value)
    os.environ["SENTINEL_ENV_FILE"] = ""


# Every benchmark imports this module before it reads any connection setting.
use_stack_connections()


def run_bench(main: Callable[..., Any]) -> None:
    """``typer.run(main)``, where SIGTERM (``timeout``, ``kill``, a CI job cancelled) ends
    the benchmark as Ctrl-C does: its ``finally`` blocks and exit stacks still remove its
    topics and database and stop the processes it started, which the default action
    would leave behind, holding ports and CPU for the next run."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    typer.run(main)


def producer(linger_ms: int = 5, bootstrap: str | None = None) -> Producer:
    """An idempotent lz4 producer partitioning as the agents do (Java's murmur2), to the
    stack's brokers or to ``bootstrap``'s."""
    kafka = KafkaConnection(bootstrap_servers=bootstrap) if bootstrap else KafkaConnection()
    return kafka_edge.producer(kafka, **{"linger.ms": linger_ms, "compression.type": "lz4"})


def seed_reference(out: Producer, prefix: str) -> None:
    """Publish the seed rules and named lists (as `sentinel rules load` would) under
    ``prefix``: the agents decide with what the demo decides with."""
    for spec in load_seed_rules():
        rule = Rule(
            rule_id=spec.rule_id,
            version=spec.version,
            name=spec.name,
            description=spec.description,
            expression=spec.expression,
            action=str(spec.action),
            priority=spec.priority,
            mode=RuleMode(spec.mode),
            author="bench",
            updated_at=datetime.now(UTC),
        )
        out.produce(f"{prefix}{RULES.name}", encode_rule(rule), spec.rule_id.encode())
    for named in load_seed_lists().values():
        record = NamedList(
            name=named.name,
            kind=named.kind.value,
            values=tuple(sorted(named.values)),
            updated_at=datetime.now(UTC),
        )
        out.produce(f"{prefix}{LISTS.name}", encode_named_list(record), named.name.encode())
    out.flush(10)


def measures_table(title: str, result: dict[str, Any], digits: int = 2) -> None:
    """Print a flat result as a two-column table."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:,.{digits}f}" if isinstance(value, float) else str(value))
    console.print(table)


def cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    """User + system CPU seconds of ``procs`` so far (one that went away counts nothing)."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def rss_mib(procs: Sequence[psutil.Process]) -> float:
    """Resident memory of ``procs`` in MiB (one that went away counts nothing)."""
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def with_children(proc: psutil.Process) -> list[psutil.Process]:
    """``proc`` and every process it started (a server's workers)."""
    return [proc, *proc.children(recursive=True)]


def shared_servers() -> dict[str, list[psutil.Process]]:
    """The stack's broker and PostgreSQL: shared with everyone else on this machine."""
    kafka, postgres = [], []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "kafka.Kafka" in cmdline:
            kafka.append(proc)
        elif (proc.info["name"] or "").startswith("postgres"):
            postgres.append(proc)
    return {"kafka (shared)": kafka, "postgres (shared)": postgres}


def write_results(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` as JSON with when it was measured and on how many cores."""
    path.parent.mkdir(exist_ok=True)
    stamped = {"measured_at": datetime.now(UTC).isoformat(), "cores": os.cpu_count(), **result}
    path.write_text(json.dumps(stamped, indent=2) + "\n")
    console.print(f"wrote {path}")


def merge_result(path: Path, key: str, value: Any) -> None:
    """Set one key of an existing results file, keeping the rest (another bench's part)."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current[key] = {"measured_at": datetime.now(UTC).isoformat(), **value}
    path.write_text(json.dumps(current, indent=2) + "\n")
    console.print(f"updated {key} in {path}")


def kept_results(path: Path, *keys: str) -> dict[str, Any]:
    """The given keys of an existing results file (written there by another bench)."""
    current = json.loads(path.read_text()) if path.exists() else {}
    return {key: current[key] for key in keys if key in current}
