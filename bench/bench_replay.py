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
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from pydantic import SecretStr
from rich.console import Console

from bench.common import measures_table, producer, seed_reference, write_results
from decision_core.features import AccountFeatures
from decision_core.records import BatchResult, SourceRecord
from deploy.topics import TopicAdmin, apply
from ledger_sink.writer import LedgerWriter
from replay.candidate import Candidate, build_pipeline
from replay.service import ReplayRequest, replay
from replay.settings import ReplaySettings
from replay.source import Selection
from rule_engine import load_seed_lists, load_seed_rules
from schemas.codec import encode_transaction
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import TRANSACTIONS, declared_topics
from tests.integration.ledger_sink.support import migrated_database
from tests.support.agents import transactions
from tests.support.models import train_tiny_model

RESULTS = Path(__file__).with_name("results") / "replay.json"
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
) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    admin = TopicAdmin(BOOTSTRAP)
    apply(admin, declared_topics(prefix))
    workdir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    train_tiny_model(workdir / "models")
    seed_reference(producer(linger_ms=20), prefix)
    try:
        with migrated_database() as dsn:
            began = time.perf_counter()
            preload(prefix, dsn, workdir, count)
            console.print(f"set-up: {count:,} transactions in {time.perf_counter() - began:.1f} s")
            settings = ReplaySettings(
                workers=workers,
                kafka=KafkaConnection(topic_prefix=prefix),
                postgres=PostgresConnection(dsn=SecretStr(dsn)),
            )
            request = ReplayRequest(
                selection=Selection(warmup_ms=None),
                rules_file=candidate_file(workdir),
                registry=workdir / "models",
            )
            cpu_before = _cpu_s()
            outcome = replay(request, settings)
            cpu = _cpu_s() - cpu_before
    finally:
        names = [s.name for s in declared_topics(prefix)]
        existing = admin.admin.list_topics(timeout=10).topics
        admin.delete(n for n in names if n in existing)
    run = outcome.report["run"]
    report(
        {
            "transactions": outcome.report["totals"]["replayed"],
            "changed": outcome.report["totals"]["changed"],
            "in_ledger": outcome.report["totals"]["in_ledger"],
            "workers": run["workers"],
            "elapsed_s": run["elapsed_s"],
            "replayed_per_s": run["replayed_per_s"],
            # Load-independent: the CPU the replay itself used (workers included).
            "cpu_s": round(cpu, 2),
            "replayed_per_cpu_s": round(outcome.report["totals"]["replayed"] / cpu, 1),
            "load_average_1m": os.getloadavg()[0],
        }
    )


def _cpu_s() -> float:
    """CPU seconds of this process and of its reaped children (the worker processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def report(result: dict[str, Any]) -> None:
    measures_table(f"sentinel replay, {os.cpu_count()} cores", result, digits=1)
    write_results(RESULTS, result)


if __name__ == "__main__":
    typer.run(main)
