"""Benchmark: replayed transactions per second of `sentinel replay` on a generated range.

Run from the repository root: .venv/bin/python -m bench.bench_replay   (stack up: make up)

Produces ``--count`` transactions (2,000 accounts, a minute apart per account) to topics of
its own, records a "live" decision for each in a throwaway ledger database (decided by the
agents' pipeline under the seed rules, written by the sink's own writer), then replays the
whole range with the seed rules but one rule changed and a small XGBoost model, comparing
with that ledger. Rate = replayed transactions / wall time of the replay itself (reading,
deciding, ledger look-ups; not the set-up); ``replayed_per_cpu_s`` divides by the CPU time
the replay used instead, which the other work on a shared machine does not distort.
Writes bench/results/replay.json. Machine noise is large: the box is shared.

Each replay runs in a process of its own (``bench/replay_child.py``) on the range set up
once; ``--rounds`` replays it that many times and reports the medians. ``--before PATH``
alternates with a replay whose code is another checkout's (its PYTHONPATH): same range,
same ledger, medians of each and their ratio, and whether the outputs (report and changed
transactions, timings left out) were identical.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bench.common import measures_table, producer, run_bench, seed_reference, write_results
from decision_core.features import AccountFeatures
from decision_core.records import BatchResult, SourceRecord
from deploy.topics import TopicAdmin, apply
from ledger_sink.writer import LedgerWriter
from replay.candidate import Candidate, build_pipeline
from rule_engine import load_seed_lists, load_seed_rules
from schemas.codec import encode_transaction
from schemas.connections import KafkaConnection
from schemas.topics import TRANSACTIONS, declared_topics
from tests.integration.ledger_sink.support import migrated_database
from tests.support.agents import transactions
from tests.support.models import train_tiny_model

RESULTS = Path(__file__).with_name("results") / "replay.json"
CHILD = Path(__file__).with_name("replay_child.py")
ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = KafkaConnection().bootstrap_servers
console = Console()


def preload(prefix: str, dsn: str, workdir: Path, count: int) -> None:
    """The range on the topic, and its "live" decisions (the seed rules and the model, through
    the agents' pipeline) in the ledger."""
    start = datetime.now(UTC) - timedelta(days=2)
    txs = transactions(accounts=2000, per_account=count // 2000 + 1, start=start)[:count]
    live = build_pipeline(
        Candidate(
            rules=tuple(load_seed_rules()),
            lists=tuple(load_seed_lists().values()),
            model_dir=workdir / "models" / "tiny-1",
        )
    )
    states: dict[str, AccountFeatures] = {}
    out = producer(linger_ms=20)
    writer = LedgerWriter(dsn)
    for i in range(0, len(txs), 2000):
        chunk = txs[i : i + 2000]
        records = []
        for n, tx in enumerate(chunk):
            value = encode_transaction(tx)
            out.produce(f"{prefix}{TRANSACTIONS.name}", value, tx.account_id.encode())
            out.poll(0)
            records.append(SourceRecord("live", 0, i + n, 0, tx.account_id.encode(), value))
        decided = live.decide(records, states, lambda _a: None, BatchResult())
        writer.write([d for _r, d in decided])
    writer.close()
    out.flush(60)


VELOCITY = "seed-velocity-1h"


def candidate_file(workdir: Path) -> Path:
    """The seed rules with the velocity rule loosened (small amounts pass): the kind of
    change an analyst would test."""
    rules = [
        {
            "rule_id": spec.rule_id,
            "version": spec.version + 1 if spec.rule_id == VELOCITY else spec.version,
            "name": spec.name,
            "expression": "count_1h >= 2"
            if spec.rule_id == "seed-velocity-1h"
            else spec.expression,
            "action": str(spec.action),
            "priority": spec.priority,
            "mode": spec.mode.value,
        }
        for spec in load_seed_rules()
    ]
    path = workdir / "candidate.json"
    path.write_text(json.dumps({"rules": rules}))
    return path


def main(
    count: int = typer.Option(200_000, help="Transactions in the replayed range."),
    workers: int = typer.Option(0, help="Worker processes (0: one per core)."),
    rounds: int = typer.Option(1, help="Replays of the range per variant (medians reported)."),
    before: str = typer.Option(
        "", help="A checkout whose replay code runs alternately as the 'before' variant."
    ),
) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    admin = TopicAdmin(KafkaConnection())
    apply(admin, declared_topics(prefix))
    workdir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    train_tiny_model(workdir / "models")
    seed_reference(producer(linger_ms=20), prefix)
    variants = {"after": str(ROOT)}
    if before:
        variants = {"before": str(Path(before).resolve()), **variants}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    try:
        with migrated_database() as dsn:
            began = time.perf_counter()
            preload(prefix, dsn, workdir, count)
            console.print(f"set-up: {count:,} transactions in {time.perf_counter() - began:.1f} s")
            args = {
                "prefix": prefix,
                "dsn": dsn,
                "workers": workers,
                "rules_file": str(candidate_file(workdir)),
                "registry": str(workdir / "models"),
            }
            for _round in range(rounds):
                for name, code in variants.items():
                    runs[name].append(replay_once(code, args))
                    console.print(f"{name}: {runs[name][-1]}")
    finally:
        names = [s.name for s in declared_topics(prefix)]
        existing = admin.admin.list_topics(timeout=10).topics
        admin.delete(n for n in names if n in existing)
    report(summary(runs))


def replay_once(code: str, args: dict[str, Any]) -> dict[str, Any]:
    """One replay in a process of its own, with ``code`` first on its PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": code}
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, str(CHILD)],
        input=json.dumps(args),  # not argv: the DSN holds a password
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    run: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    run["replayed_per_cpu_s"] = round(run["transactions"] / run["cpu_s"], 1)
    run["load_average_1m"] = round(os.getloadavg()[0], 2)
    return run


def summary(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The current code's medians at the top level, every run and the before/after ratio."""
    after = runs["after"]
    result: dict[str, Any] = {
        **{k: after[0][k] for k in ("transactions", "changed", "in_ledger", "workers")},
        "rounds": len(after),
        **{key: median(after, key) for key in MEDIANS},
        "output_digest": after[0]["output_digest"],
    }
    if "before" in runs:
        result["before"] = {key: median(runs["before"], key) for key in MEDIANS}
        result["ratio_per_s"] = round(
            result["replayed_per_s"] / result["before"]["replayed_per_s"], 3
        )
        result["ratio_per_cpu_s"] = round(
            result["replayed_per_cpu_s"] / result["before"]["replayed_per_cpu_s"], 3
        )
    digests = {run["output_digest"] for variant in runs.values() for run in variant}
    result["outputs_identical"] = len(digests) == 1
    result["runs"] = runs
    return result


MEDIANS = ("elapsed_s", "replayed_per_s", "cpu_s", "replayed_per_cpu_s", "load_average_1m")


def median(runs: list[dict[str, Any]], key: str) -> float:
    return round(float(statistics.median(run[key] for run in runs)), 3)


def report(result: dict[str, Any]) -> None:
    flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
    measures_table(f"sentinel replay, {os.cpu_count()} cores", flat, digits=1)
    if "before" in result:
        measures_table("before", result["before"], digits=1)
    write_results(RESULTS, result)


if __name__ == "__main__":
    run_bench(main)
