"""Benchmark: what one synchronous consumer-group offset commit costs the local broker.

Run from the repository root: .venv/bin/python -m bench.bench_commits   (stack up: make up)

A consumer of its own group commits offsets of ``--partitions`` partitions of its own topic
``--commits`` times, synchronously (``commit(asynchronous=False)``, as the ledger consumers
commit), one after the other; the broker's CPU (the stack's ``kafka.Kafka`` process, as
``make bench`` finds it) and this process's over the loop, per commit, against the broker's
CPU over the same time idle right after. Why it matters: a consumer that commits after every
batch makes tens of these a second at a steady rate (``ledger_sink.kafka_io.BatchConsumer``
commits at most once per ``SENTINEL_SINK_COMMIT_INTERVAL_S`` since). Writes
bench/results/commits.json.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psutil
import typer
from confluent_kafka import TopicPartition

from bench.common import (
    cpu_seconds,
    measures_table,
    run_bench,
    shared_servers,
    use_stack_connections,
    write_results,
)
from deploy.topics import TopicAdmin, apply
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec

RESULTS = Path(__file__).with_name("results") / "commits.json"


def main(
    commits: int = typer.Option(2_000, help="Synchronous commits in the measured loop."),
    partitions: int = typer.Option(3, help="Partitions named in each commit."),
) -> None:
    use_stack_connections()
    kafka = KafkaConnection()
    broker = shared_servers()["kafka (shared)"]
    if not broker:
        raise SystemExit("no local broker (kafka.Kafka) runs here: make stack-up")
    name = f"bench-{uuid.uuid4().hex[:8]}.commits"
    admin = TopicAdmin(kafka)
    apply(admin, [TopicSpec(name, partitions, "offset commit probe")])
    consumer = kafka_edge.consumer(kafka, name)
    offsets = [TopicPartition(name, p, 0) for p in range(partitions)]
    try:
        consumer.commit(offsets=offsets, asynchronous=False)  # the group and its coordinator
        me = [psutil.Process()]
        broker_before, mine_before = cpu_seconds(broker), cpu_seconds(me)
        started = time.perf_counter()
        for _ in range(commits):
            consumer.commit(offsets=offsets, asynchronous=False)
        elapsed = time.perf_counter() - started
        broker_busy = cpu_seconds(broker) - broker_before
        mine = cpu_seconds(me) - mine_before
        idle_before = cpu_seconds(broker)
        time.sleep(elapsed)
        broker_idle = cpu_seconds(broker) - idle_before
    finally:
        consumer.close()
        admin.delete([name])
    per = 1e6 / commits
    result = {
        "commits": commits,
        "partitions_per_commit": partitions,
        "wall_us_per_commit": round(elapsed * per, 1),
        "broker_cpu_us_per_commit": round(broker_busy * per, 1),
        "broker_idle_cpu_us_per_commit_time": round(broker_idle * per, 1),
        "client_cpu_us_per_commit": round(mine * per, 1),
    }
    measures_table("one synchronous offset commit, local broker", result, 1)
    write_results(RESULTS, result)


if __name__ == "__main__":
    run_bench(main)
