"""Benchmark: how long `sentinel dlq list` and `redrive` take on a large dead-letter topic.

Run: .venv/bin/python bench/bench_dlq.py [--letters 20000] [--redrive 2000]
(the stack must be up). Its own topics (a unique prefix), deleted afterwards.

- list: every letter read, decoded and marked (``load_letters``), from the start to the
  high watermarks, as `sentinel dlq list` does before it prints;
- redrive: ``--redrive`` letters chosen by error code, each re-produced in a Kafka
  transaction with its mark (100 per transaction), from fencing to the last commit.
"""

from __future__ import annotations

import json
import platform
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import typer
from rich.console import Console
from rich.table import Table

from bench.common import run_bench, use_stack_connections
from deploy.topics import TopicAdmin, apply
from dlq.letters import LetterFilter
from dlq.redrive import redrive
from dlq.source import DlqTopics, load_letters
from schemas import kafka_edge
from schemas.codec import encode_dead_letter
from schemas.connections import KafkaConnection
from schemas.records import DeadLetter
from schemas.topics import declared_topics

RESULTS = Path(__file__).parent / "results" / "dlq.json"
console = Console()


def fill(conn: KafkaConnection, topic: str, letters: int, redriven: int) -> None:
    """``letters`` dead letters; the first ``redriven`` with the code the re-drive picks."""
    producer = kafka_edge.producer(conn, **{"linger.ms": 20})
    now = datetime.now(UTC)
    for n in range(letters):
        transaction_id = str(uuid.uuid4())
        letter = DeadLetter(
            source_topic=f"{conn.topic_prefix}transactions",
            partition=n % 12,
            offset=n,
            key=f"acct-{n % 1000}".encode(),
            # About the size of an encoded transaction.
            value=transaction_id.encode() + bytes(200),
            error_code="bench_redrive" if n < redriven else "bench_keep",
            error_message="benchmark letter",
            failed_at=now,
            headers={"transaction-id": transaction_id},
        )
        while True:
            try:
                producer.produce(topic, encode_dead_letter(letter), letter.key)
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(60):
        raise SystemExit("the broker did not take every letter")


def main(
    letters: int = typer.Option(20_000, help="dead letters on the topic"),
    redriven: int = typer.Option(2_000, "--redrive", help="of which re-driven"),
) -> None:
    use_stack_connections()  # the stack's generated passwords, as every benchmark
    prefix = f"bench-dlq-{uuid.uuid4().hex[:8]}."
    conn = KafkaConnection(topic_prefix=prefix)
    admin = TopicAdmin(conn)
    specs = declared_topics(prefix)
    apply(admin, specs)
    topics = DlqTopics.of("dead-letter", prefix)
    try:
        fill(conn, topics.name, letters, redriven)
        started = time.perf_counter()
        loaded = load_letters(conn, topics)
        list_s = time.perf_counter() - started
        if len(loaded.letters) != letters:
            raise SystemExit(f"listed {len(loaded.letters)} of {letters}")
        started = time.perf_counter()
        report = redrive(conn, topics, LetterFilter(error_codes=frozenset({"bench_redrive"})))
        redrive_s = time.perf_counter() - started
        if len(report.redriven) != redriven:
            raise SystemExit(f"re-drove {len(report.redriven)} of {redriven}")
    finally:
        admin.delete(spec.name for spec in specs)
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "cores": psutil.cpu_count(),
        "machine": platform.machine(),
        "letters": letters,
        "list_s": round(list_s, 3),
        "list_letters_per_s": round(letters / list_s),
        "redriven": redriven,
        "redrive_s": round(redrive_s, 3),
        "redrive_letters_per_s": round(redriven / redrive_s),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title="sentinel dlq (shared machine: rough figures)")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row(f"list {letters:,} letters", f"{list_s:.2f} s ({letters / list_s:,.0f}/s)")
    table.add_row(
        f"redrive {redriven:,} letters", f"{redrive_s:.2f} s ({redriven / redrive_s:,.0f}/s)"
    )
    console.print(table)


if __name__ == "__main__":
    run_bench(main)
