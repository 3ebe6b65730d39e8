"""Benchmark: the stream agent's sustained decisions/s against a raw Kafka loop, and its
append-to-decision latency at a fixed rate.

Run from the repository root: .venv/bin/python -m bench.bench_agents   (stack up: make up)

1. Ceiling: a plain confluent-kafka consume -> produce loop moves the same records from
   the transactions topic to a copy topic, as fast as it can.
2. Throughput: one agent worker (seed rules, a small XGBoost model) decides a backlog of
   the same records; rate = decisions / (last decision - first decision), from the
   decisions' broker timestamps.
3. Latency and cost: transactions produced at a steady rate while the worker runs, and
   the worker's CPU seconds meanwhile (per transaction, and as a share of one core) and
   its micro-batches (a second, and their mean size: its own ``sentinel_agent_batch_size``
   histogram, read from its metrics endpoint);
   latency = the decision's timestamp minus its transaction's timestamp (both broker
   record times), and ``visible_*``: the wall-clock time a read_committed consumer first
   sees the decision minus the transaction's timestamp.
Writes bench/results/agents.json (or ``--out``). Machine noise is large: compare ratios
within one run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import typer
from confluent_kafka import TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from bench.common import cpu_seconds, producer, run_bench, seed_reference, write_results
from deploy.topics import TopicAdmin, apply
from schemas import kafka_edge
from schemas.codec import decode_transaction, encode_transaction
from schemas.connections import KafkaConnection
from schemas.kafka_edge import decode_headers
from schemas.topics import (
    DECISIONS,
    HEADER_TRANSACTION_ID,
    TRANSACTIONS,
    TopicSpec,
    declared_topics,
)
from stream_agents.settings import AgentSettings
from tests.support.agents import changelog_topic, transactions
from tests.support.models import announce_model, train_tiny_model
from tests.support.ports import free_port

RESULTS = Path(__file__).with_name("results") / "agents.json"
BOOTSTRAP = KafkaConnection().bootstrap_servers
console = Console()


def preload(prefix: str, count: int) -> list[bytes]:
    txs = transactions(accounts=2000, per_account=count // 2000 + 1)[:count]
    out = producer()
    values = []
    for tx in txs:
        value = encode_transaction(tx)
        values.append(value)
        out.produce(f"{prefix}{TRANSACTIONS.name}", value, tx.account_id.encode())
        out.poll(0)
    out.flush(60)
    return values


def raw_loop(prefix: str, count: int) -> float:
    """Records/s of a bare consume -> produce loop over the transactions topic."""
    copy = f"{prefix}raw-copy"
    TopicAdmin(KafkaConnection()).create([TopicSpec(copy, 12, "bench copy", replication_factor=1)])
    consumer = kafka_edge.consumer(
        KafkaConnection(), uuid.uuid4().hex, **{"auto.offset.reset": "earliest"}
    )
    consumer.subscribe([f"{prefix}{TRANSACTIONS.name}"])
    out = producer()
    moved, started = 0, None
    while moved < count:
        batch = consumer.consume(num_messages=1000, timeout=1.0)
        if batch and started is None:
            started = time.perf_counter()
        for msg in batch:
            if msg.error() is None:
                while True:
                    try:
                        out.produce(copy, msg.value(), msg.key())
                        break
                    except BufferError:
                        out.poll(0.05)  # more than the local queue holds: let it drain
                moved += 1
        out.poll(0)
        consumer.commit(asynchronous=True)
    out.flush(60)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return moved / elapsed


def decisions(prefix: str, expected: int, timeout_s: float) -> list[tuple[str, int]]:
    """(transaction id, decision timestamp ms) of every decision, once ``expected`` arrived."""
    topic = f"{prefix}{DECISIONS.name}"
    consumer = kafka_edge.consumer(KafkaConnection(), uuid.uuid4().hex)
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=5000, timeout=0.5):
            if msg.error() is None:
                tid = decode_headers(msg.headers())[HEADER_TRANSACTION_ID].decode()
                seen.append((tid, msg.timestamp()[1]))
    consumer.close()
    return seen


def tx_times(prefix: str) -> dict[str, int]:
    topic = f"{prefix}{TRANSACTIONS.name}"
    # Assigned, never joined: librdkafka's auto commit, as it had, commits nothing.
    consumer = kafka_edge.consumer(
        KafkaConnection(), uuid.uuid4().hex, **{"enable.auto.commit": True}
    )
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    out: dict[str, int] = {}
    quiet = time.monotonic()
    while time.monotonic() - quiet < 2:
        batch = consumer.consume(num_messages=5000, timeout=0.5)
        if batch:
            quiet = time.monotonic()
        for msg in batch:
            out[decode_transaction(msg.value()).transaction_id] = msg.timestamp()[1]
    consumer.close()
    return out


class Arrivals(threading.Thread):
    """When a read_committed consumer first sees each new decision (wall clock, ms)."""

    def __init__(self, prefix: str) -> None:
        super().__init__(daemon=True)
        topic = f"{prefix}{DECISIONS.name}"
        self.consumer = kafka_edge.consumer(
            KafkaConnection(),
            uuid.uuid4().hex,
            **kafka_edge.READ_COMMITTED,
            **{"fetch.wait.max.ms": 10},
        )
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: self.consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in parts}
        self.consumer.assign([TopicPartition(topic, p, end) for p, end in ends.items()])
        self.seen: dict[str, float] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            # poll, not consume(n, timeout): that one holds records back until n arrived
            # or the timeout passed, which would add up to the timeout to every latency.
            msg = self.consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                tid = decode_headers(msg.headers())[HEADER_TRANSACTION_ID].decode()
                self.seen.setdefault(tid, time.time() * 1000)
        self.consumer.close()


def start_worker(
    prefix: str,
    registry: Path,
    data: Path,
    batch_wait_ms: float | None,
    metrics_port: int | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
        "SENTINEL_AGENTS_MODEL_REGISTRY": str(registry),
        "SENTINEL_AGENTS_DATA_DIR": str(data),
    }
    if metrics_port is not None:
        env["SENTINEL_AGENTS_METRICS_PORT"] = str(metrics_port)
    if batch_wait_ms is not None:
        env["SENTINEL_AGENTS_BATCH_WAIT_MS"] = str(batch_wait_ms)
    sentinel = str(Path(sys.executable).with_name("sentinel"))
    log = (data / "worker.log").open("wb")
    return subprocess.Popen(  # noqa: S603 - our own console script
        [sentinel, "agents", "run", "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def batch_counts(metrics_port: int) -> tuple[float, float]:
    """The worker's micro-batches so far, and the transactions in them (its Prometheus
    histogram ``sentinel_agent_batch_size``)."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "sentinel_agent_batch_size"
        for sample in family.samples
    }
    return found["sentinel_agent_batch_size_count"], found["sentinel_agent_batch_size_sum"]


def paced(prefix: str, rate: int, seconds: float) -> set[str]:
    """Produce fresh transactions at ``rate`` per second for ``seconds``; returns their ids."""
    per_account = int(rate * seconds) // 2000 + 2
    # Event times a minute apart per round and a second apart per account, all in the
    # past: the agents dead-letter one more than 5 minutes ahead of its broker timestamp.
    start = datetime.now(UTC) - timedelta(minutes=per_account, seconds=2000)
    txs = transactions(accounts=2000, per_account=per_account, start=start)
    out = producer()
    sent, began = 0, time.perf_counter()
    tick = 0.01  # send in 10 ms slices so the rate is steady
    while time.perf_counter() - began < seconds and sent < len(txs):
        due = int((time.perf_counter() - began) * rate)
        while sent < due and sent < len(txs):
            tx = txs[sent]
            out.produce(
                f"{prefix}{TRANSACTIONS.name}", encode_transaction(tx), tx.account_id.encode()
            )
            sent += 1
        out.poll(0)
        time.sleep(tick)
    out.flush(30)
    return {tx.transaction_id for tx in txs[:sent]}


def main(
    backlog: int = typer.Option(50_000, help="Records for the throughput phases."),
    rate: int = typer.Option(1_000, help="Transactions per second for the latency phase."),
    seconds: float = typer.Option(20.0, help="Duration of the latency phase."),
    out: Path = typer.Option(RESULTS, help="Results file."),  # noqa: B008
    batch_wait_ms: float | None = typer.Option(
        None,
        help="The worker's micro-batch wait (SENTINEL_AGENTS_BATCH_WAIT_MS) if not its default.",
    ),
    profile: Path | None = typer.Option(  # noqa: B008
        None, help="py-spy the worker during the steady-rate phase: collapsed stacks here."
    ),
) -> None:
    ceiling, measured = measure(backlog, rate, seconds, None, batch_wait_ms, profile)
    result: dict[str, Any] = {"raw_loop_per_s": ceiling, **measured}
    report(result, out)


def measure(
    backlog: int,
    rate: int,
    seconds: float,
    ceiling: float | None,
    batch_wait_ms: float | None,
    profile: Path | None = None,
) -> tuple[float, dict[str, Any]]:
    """One worker on fresh topics: throughput on a backlog, then
    latency at ``rate`` and the worker's CPU meanwhile; the raw loop too unless its
    ``ceiling`` is known."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    admin = TopicAdmin(KafkaConnection())
    apply(admin, declared_topics(prefix))
    workdir = Path(tempfile.mkdtemp(prefix="bench-agents-"))
    announce_model(prefix, train_tiny_model(workdir / "models"))
    seed_reference(producer(), prefix)
    try:
        preload(prefix, backlog)
        if ceiling is None:
            ceiling = raw_loop(prefix, backlog)
        metrics_port = free_port()
        worker = start_worker(prefix, workdir / "models", workdir, batch_wait_ms, metrics_port)
        try:
            done = decisions(prefix, backlog, timeout_s=600)
            stamps = sorted(ts for _tid, ts in done)
            sustained = len(stamps) / max(1e-3, (stamps[-1] - stamps[0]) / 1000)
            arrivals = Arrivals(prefix)
            arrivals.start()
            # The worker's CPU while it keeps up with a steady rate: what a rate costs,
            # far less sensitive to a noisy machine than the latencies.
            process = psutil.Process(worker.pid)
            batches_before = batch_counts(metrics_port)
            cpu_before, began = cpu_seconds([process]), time.monotonic()
            spy = None if profile is None else py_spy(worker.pid, seconds, profile)
            sent = paced(prefix, rate, seconds)
            if spy is not None:
                spy.wait(seconds + 30)
            decided = decisions(prefix, backlog + len(sent), timeout_s=120)
            cpu_s, elapsed = cpu_seconds([process]) - cpu_before, time.monotonic() - began
            batches, batched = (
                after - before
                for after, before in zip(batch_counts(metrics_port), batches_before, strict=True)
            )
            latency = _latencies(prefix, decided, sent, arrivals)
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        names = [s.name for s in declared_topics(prefix)] + [
            f"{prefix}raw-copy",
            changelog_topic(prefix),
        ]
        existing = admin.admin.list_topics(timeout=10).topics
        admin.delete(n for n in names if n in existing)
    shutil.rmtree(workdir, ignore_errors=True)  # kept when the run fails: the worker's log
    return ceiling, {
        "agent_decisions_per_s": sustained,
        "ratio": sustained / ceiling,
        "latency_rate_per_s": rate,
        # What the worker ran with: the option, else its settings (environment included).
        "batch_wait_ms": AgentSettings().batch_wait_ms if batch_wait_ms is None else batch_wait_ms,
        "worker_cpu_us_per_tx_at_rate": cpu_s / max(1, len(sent)) * 1e6,
        "worker_cpu_share_at_rate": cpu_s / elapsed,
        # How the worker cut the steady rate into micro-batches (its own metrics).
        "batches_per_s_at_rate": batches / elapsed,
        "mean_batch_at_rate": batched / max(1, batches),
        **latency,
    }


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds``, idle samples left out, without pausing it
    (a paused worker falls behind, and its profile becomes a backlog's); collapsed stacks,
    one line per stack: frames, then a count."""
    spy = str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(  # noqa: S603 - a dev dependency's console script
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "100",
            "--nonblocking",
            "--threads",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _latencies(
    prefix: str, all_decided: list[tuple[str, int]], ids: set[str], arrivals: Arrivals
) -> dict[str, float]:
    decided = {tid: ts for tid, ts in all_decided if tid in ids}
    arrivals.stopped.set()
    arrivals.join(10)
    appended = tx_times(prefix)
    waits = sorted(ts - appended[tid] for tid, ts in decided.items())
    visible = sorted(ts - appended[tid] for tid, ts in arrivals.seen.items() if tid in ids)
    return {
        "p50_ms": float(statistics.median(waits)),
        "p99_ms": float(waits[int(0.99 * (len(waits) - 1))]),
        "max_ms": float(waits[-1]),
        "samples": len(waits),
        "visible_p50_ms": float(statistics.median(visible)),
        "visible_p99_ms": float(visible[int(0.99 * (len(visible) - 1))]),
        "visible_samples": len(visible),
    }


def report(result: dict[str, Any], out: Path = RESULTS) -> None:
    table = Table(title=f"stream agent, one worker, {os.cpu_count()} cores")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    console.print(table)
    write_results(out, result)


if __name__ == "__main__":
    run_bench(main)
