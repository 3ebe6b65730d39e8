"""Benchmark: broker faults on a 3-broker cluster with traffic through the whole pipeline.

Run from the repository root: .venv/bin/python -m bench.bench_brokers   (stack up: make up)

Each scenario starts its own private 3-broker cluster on free ports (the stack's PostgreSQL
holds its ledger, in a database of its own), a producer at ``--rate`` tx/s, an agent
worker, the ledger sink and the webhook dispatcher with a receiver, then:

- ``kill_leader``: kill -9 of the broker leading most partitions of ``transactions`` and
  ``decisions``, restarted after ``--down`` seconds;
- ``rolling_restart``: each broker in turn stopped (SIGTERM: a controlled shutdown) and
  restarted, the next one only once every partition is back in sync;
- ``one_down``: one broker stopped for ``--minute`` seconds: with 3 replicas and
  min.insync.replicas=2 the producers keep writing to the other two.

Per scenario: records lost (accepted but not in the ledger, in it twice, webhook events
missing or accepted twice), the p99 ingest->decision latency before the fault and from it
on, and the time to recover. Writes bench/results/brokers.json (or ``--out``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from bench.common import console, measures_table, run_bench, write_results
from tests.support.broker_faults import BEFORE_S, Pipeline, blip, pipeline_on_cluster

RESULTS = Path(__file__).with_name("results") / "brokers.json"


def kill_leader(pipeline: Pipeline, down_s: float) -> dict[str, Any]:
    cluster = pipeline.cluster
    victim = cluster.node(cluster.leader_of_most(pipeline.topics))
    began = time.time()
    victim.kill()
    time.sleep(down_s)
    victim.start()
    cluster.await_answers(victim)
    return {"fault_at": began, "fault_end": time.time(), "node": victim.name}


def rolling_restart(pipeline: Pipeline, down_s: float) -> dict[str, Any]:
    del down_s
    cluster = pipeline.cluster
    began = time.time()
    resync = []
    for node in cluster.nodes:
        node.stop()
        node.start()
        cluster.await_answers(node)
        back = time.time()
        if not _wait(lambda: cluster.in_sync(pipeline.topics), 180):
            raise RuntimeError(f"partitions not back in sync 180 s after {node.name}'s restart")
        resync.append(round(time.time() - back, 1))
    return {"fault_at": began, "fault_end": time.time(), "resync_after_each_s": resync}


def one_down(pipeline: Pipeline, down_s: float) -> dict[str, Any]:
    cluster = pipeline.cluster
    victim = cluster.node(cluster.leader_of_most(pipeline.topics))
    feeder = pipeline.feeder
    if feeder is None:
        raise RuntimeError("the pipeline has no traffic")
    before = len(feeder.sent_ids())
    began = time.time()
    victim.stop()
    smallest_isr = 3
    while time.time() - began < down_s:
        parts = cluster.partitions(pipeline.topics)
        smallest_isr = min(smallest_isr, *(len(p.isrs) for p in parts))
        time.sleep(2)
    accepted_while_down = len(feeder.sent_ids()) - before
    decided_while_down = sum(1 for at, _ in pipeline.latencies() if at >= began)
    victim.start()
    cluster.await_answers(victim)
    return {
        "fault_at": began,
        "fault_end": time.time(),
        "node": victim.name,
        "down_s": round(time.time() - began, 1),
        "accepted_while_down": accepted_while_down,
        "decided_while_down": decided_while_down,
        "smallest_isr_while_down": smallest_isr,
    }


NAMES = "kill_leader, rolling_restart, one_down"
SCENARIOS: dict[str, Callable[[Pipeline, float], dict[str, Any]]] = {
    "kill_leader": kill_leader,
    "rolling_restart": rolling_restart,
    "one_down": one_down,
}


def _wait(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(1)
    return False


def run_scenario(
    name: str, rate: int, down_s: float, minute_s: float, after_s: float
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"brokers-{name}-"))
    console.print(f"[bold]{name}[/]: starting a 3-broker cluster and the pipeline in {root}")
    with pipeline_on_cluster(root, rate, seconds=900) as pipeline:
        # A steady state to compare with: the whole "before" window after the start-up's
        # backlog drained (it held 5-12 s latencies, which a 10 s wait left in the window).
        time.sleep(BEFORE_S + 5)
        fault = SCENARIOS[name](pipeline, minute_s if name == "one_down" else down_s)
        time.sleep(after_s)
        outcome = pipeline.finish(timeout_s=300)
        figures = blip(pipeline, fault["fault_at"], fault["fault_end"])
        lost = outcome.lost()
    lost_total = sum(v for k, v in lost.items() if k != "accepted")
    result = {
        **{k: v for k, v in fault.items() if k not in ("fault_at", "fault_end")},
        "fault_s": round(fault["fault_end"] - fault["fault_at"], 1),
        **figures,
        **lost,
        "records_lost": lost_total,
        "logs": str(root),
    }
    measures_table(f"{name} at {rate} tx/s", result)
    return result


def main(
    rate: int = typer.Option(100, help="Transactions per second produced."),
    down: float = typer.Option(10.0, help="Seconds the killed leader stays down."),
    minute: float = typer.Option(60.0, help="Seconds one broker stays down (one_down)."),
    after: float = typer.Option(20.0, help="Seconds of traffic after each fault."),
    only: list[str] = typer.Option(  # noqa: B008 - typer's way to declare the option
        [], "--only", help=f"Run only these scenarios ({NAMES})."
    ),
    out: Path = typer.Option(RESULTS, help="Results file."),  # noqa: B008
) -> None:
    load_before = os.getloadavg()
    results = {
        name: run_scenario(name, rate, down, minute, after) for name in (only or list(SCENARIOS))
    }
    settings = {
        "rate_per_s": rate,
        "brokers": 3,
        "replication_factor": 3,
        "min_insync_replicas": 2,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    write_results(out, {"settings": settings, **results})


if __name__ == "__main__":
    run_bench(main)
