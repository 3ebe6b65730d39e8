"""Benchmark: do the agents scale by adding workers? One fixed offered rate, 1, 2, 3 workers.

Run from the repository root: .venv/bin/python -m bench.bench_scaling   (stack up: make up)

For each worker count, on fresh topics: the workers start (seed rules, the tests' small
model), decide a warm-up backlog (so every worker has joined and the group is settled),
then transactions are produced at ``--rate`` for ``--seconds``. Reported per count: the
decisions whose broker timestamps fall in that window per second (achieved), that divided
by the workers (per worker: flat means linear scaling), the workers' CPU per transaction,
and append->decision latency. Everything else (Kafka, PostgreSQL, the producer) shares the
same cores, so on a 2-core machine the third worker can only compete for them: the result
says where this machine stops, the per-worker CPU says what a core buys elsewhere.
Writes bench/results/scaling.json.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import typer

from bench import pipeline_stats as stats
from bench.bench_agents import decisions, paced, preload, start_worker, tx_times
from bench.common import (
    cpu_seconds,
    measures_table,
    producer,
    run_bench,
    seed_reference,
    write_results,
)
from deploy.topics import TopicAdmin, apply
from schemas.connections import KafkaConnection
from schemas.topics import declared_topics
from tests.support.agents import changelog_topic
from tests.support.models import announce_model, train_tiny_model

RESULTS = Path(__file__).with_name("results") / "scaling.json"
WARMUP = 4_000


def run_with(workers: int, rate: int, seconds: float, admin: TopicAdmin) -> dict[str, Any]:
    """``workers`` agent processes on fresh topics at ``rate`` tx/s for ``seconds``."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    apply(admin, declared_topics(prefix))
    work = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    announce_model(prefix, train_tiny_model(work / "models"))
    seed_reference(producer(), prefix)
    procs = []
    try:
        preload(prefix, WARMUP)
        for n in range(workers):
            (work / f"w{n}").mkdir()
            procs.append(start_worker(prefix, work / "models", work / f"w{n}", None))
        decisions(prefix, WARMUP, timeout_s=300)
        watched = [psutil.Process(p.pid) for p in procs]
        cpu_before = cpu_seconds(watched)
        start_ms = int(time.time() * 1000)
        sent = paced(prefix, rate, seconds)
        end_ms = int(time.time() * 1000)
        cpu_s = cpu_seconds(watched) - cpu_before
        decided = decisions(prefix, WARMUP + len(sent), timeout_s=120)
        appended = tx_times(prefix)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        names = [s.name for s in declared_topics(prefix)] + [changelog_topic(prefix)]
        existing = admin.admin.list_topics(timeout=10).topics
        admin.delete(n for n in names if n in existing)
    in_window = [ts for tid, ts in decided if tid in sent and start_ms <= ts <= end_ms]
    achieved = len(in_window) / ((end_ms - start_ms) / 1000)
    latency = stats.summary(
        ts - appended[tid] for tid, ts in decided if tid in appended and tid in sent
    )
    return {
        "workers": workers,
        "offered_per_s": rate,
        "achieved_per_s": round(achieved, 1),
        "per_worker_per_s": round(achieved / workers, 1),
        "decided_in_the_end": sum(1 for tid, _ts in decided if tid in sent),
        "sent": len(sent),
        "workers_cpu_us_per_tx": round(cpu_s / max(1, len(sent)) * 1e6, 1),
        "append_to_decision_ms": latency,
    }


def main(
    rate: int = typer.Option(3_000, help="Offered transactions per second, the same for all."),
    seconds: float = typer.Option(20.0, help="Measured window per worker count."),
    workers: str = typer.Option("1,2,3", help="Worker counts to run."),
    out: Path = typer.Option(RESULTS, help="Results file."),  # noqa: B008
) -> None:
    admin = TopicAdmin(KafkaConnection())
    runs = [run_with(int(n), rate, seconds, admin) for n in workers.split(",")]
    for found in runs:
        measures_table(f"{found['workers']} worker(s) at {rate:,} tx/s", found, digits=1)
    write_results(out, {"rate_per_s": rate, "seconds": seconds, "runs": runs})


if __name__ == "__main__":
    run_bench(main)
