"""Benchmark: ledger sink decisions/s and webhook deliveries/s on this machine.

Run: .venv/bin/python bench/bench_sink.py  (the stack must be up: make up)
Each run gets its own topics (a unique prefix) and its own database, dropped afterwards.

- sink, end to end: decisions pre-produced to Kafka; `sentinel sink run` (a process of its
  own, default settings: batches of 500) consumes and writes them; rows/s is counted from
  the first ledger entry to the last, so consumer-group start-up is left out.
- sink, database only: LedgerWriter.write in batches of 500, no Kafka: the write path alone.
- webhooks: events pre-produced; `sentinel webhooks run` (its own process) POSTs each to a
  local keep-alive HTTP receiver in this process that checks every signature
  (tests/support/receiver.py, shared with the tests and bench_webhooks.py).
Medians over --runs runs. Kafka, PostgreSQL, the sink and the receiver share the cores.
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import typer
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.console import Console
from rich.table import Table

from bench.common import run_bench, use_stack_connections
from deploy.topics import TopicAdmin, apply
from ledger_sink.migrate import upgrade
from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import subscriptions
from ledger_sink.writer import LedgerWriter
from schemas import kafka_edge
from schemas.codec import encode_decision, encode_webhook_event
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Decision, Outcome, TxType
from schemas.topics import declared_topics
from tests.support.receiver import LOCAL_ENV, LOCAL_POLICY, Receiver

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
SECRET = "whsec_bench_0123456789"  # noqa: S105 - signs bench traffic only
console = Console()


def decisions(count: int, accounts: int = 2_000) -> list[Decision]:
    kinds = (TxType.DEBIT, TxType.DEBIT, TxType.CREDIT, TxType.REFUND)
    outcomes = (Outcome.APPROVE, Outcome.APPROVE, Outcome.APPROVE, Outcome.REVIEW, Outcome.DECLINE)
    return [
        decision(
            transaction(
                f"acct-{n % accounts}",
                Decimal(n % 50_000 + 1) / 100,
                tx_type=kinds[n % 4],
                merchant_id=f"m-{n % 300}",
                city=("Paris", "Lyon", None)[n % 3],
            ),
            outcomes[n % 5],
        )
        for n in range(count)
    ]


@contextmanager
def database() -> Iterator[str]:
    postgres = PostgresConnection()
    app_dsn, admin = postgres.dsn.get_secret_value(), postgres.admin_dsn.get_secret_value()
    name = f"bench_{uuid.uuid4().hex[:12]}"
    owner = str(conninfo_to_dict(app_dsn)["user"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    dsn = make_conninfo(app_dsn, dbname=name)
    try:
        upgrade(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def topics() -> Iterator[str]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    admin = TopicAdmin(KafkaConnection())
    specs = declared_topics(prefix)
    apply(admin, specs)
    try:
        yield prefix
    finally:
        admin.delete(spec.name for spec in specs)


def produce(topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = kafka_edge.producer(KafkaConnection(), **{"linger.ms": 20})
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                producer.poll(0)  # serve delivery reports as they come
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)


@contextmanager
def service(args: list[str], env: dict[str, str]) -> Iterator[None]:
    """The command running in its own process; its log is shown if the run fails."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([SENTINEL, *args], env=env, stdout=log, stderr=log)  # noqa: S603
        try:
            yield
        except Exception:
            log.seek(0)
            console.print(log.read().decode(errors="replace")[-4000:], markup=False)
            raise
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def timed(progress: Callable[[], int], total: int, timeout_s: float = 300) -> float:
    """Items/s from the first item done to the last (start-up excluded)."""
    deadline = time.monotonic() + timeout_s
    while progress() < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("nothing was processed")
        time.sleep(0.01)
    start, first = time.perf_counter(), progress()
    while (done := progress()) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {total} processed")
        time.sleep(0.02)
    return (total - first) / (time.perf_counter() - start)


def ledger_count(dsn: str) -> Callable[[], int]:
    conn = psycopg.connect(dsn, autocommit=True)

    def count() -> int:
        return int(conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0])  # type: ignore[index]

    return count


def sink_end_to_end(count: int) -> float:
    batch = decisions(count)
    with topics() as prefix, database() as dsn:
        produce(f"{prefix}decisions", [(d.account_id.encode(), encode_decision(d)) for d in batch])
        env = {**os.environ, "SENTINEL_KAFKA_TOPIC_PREFIX": prefix, "SENTINEL_POSTGRES_DSN": dsn}
        with service(["sink", "run"], env):
            return timed(ledger_count(dsn), count)


def sink_database_only(count: int, size: int = 500) -> float:
    batch = decisions(count)
    with database() as dsn:
        writer = LedgerWriter(dsn)
        try:
            writer.write(batch[:size])  # connect and warm up outside the clock
            start = time.perf_counter()
            for i in range(size, count, size):
                writer.write(batch[i : i + size])
            return (count - size) / (time.perf_counter() - start)
        finally:
            writer.close()


def webhooks(count: int) -> float:
    events = [webhook_event(d) for d in decisions(count)]
    with Receiver(SECRET, keep_alive=True) as receiver, topics() as prefix, database() as dsn:

        async def subscribe() -> None:
            async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
                await subscriptions.create(conn, receiver.url, ["*"], SECRET, policy=LOCAL_POLICY)

        asyncio.run(subscribe())
        produce(
            f"{prefix}webhooks",
            [(e.account_id.encode(), encode_webhook_event(e)) for e in events],
        )
        env = {
            **os.environ,
            "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
            "SENTINEL_POSTGRES_DSN": dsn,
            **LOCAL_ENV,  # the receiver is on loopback, over plain http
        }
        with service(["webhooks", "run"], env):
            rate = timed(receiver.count, count)
    if receiver.bad_signatures:
        raise RuntimeError(f"{receiver.bad_signatures} deliveries had a bad signature")
    return rate


def main(
    decisions_per_run: int = typer.Option(20_000, help="Decisions per sink run."),
    events_per_run: int = typer.Option(3_000, help="Webhook events per dispatcher run."),
    runs: int = typer.Option(3, help="Runs per figure; the median is reported."),
) -> None:
    use_stack_connections()  # the stack's generated passwords, as every benchmark
    figures = {
        "sink end to end (decisions/s)": lambda: sink_end_to_end(decisions_per_run),
        "sink database write only (decisions/s)": lambda: sink_database_only(decisions_per_run),
        "webhook deliveries/s": lambda: webhooks(events_per_run),
    }
    table = Table(title=f"ledger sink and webhooks — {platform.node()}, {psutil.cpu_count()} cores")
    for column in ("figure", "median", "runs"):
        table.add_column(column)
    for name, measure in figures.items():
        results = []
        for n in range(runs):
            with console.status(f"{name}: run {n + 1} of {runs}…"):
                results.append(measure())
        table.add_row(
            name, f"{statistics.median(results):,.0f}", ", ".join(f"{r:,.0f}" for r in results)
        )
    console.print(table)


if __name__ == "__main__":
    run_bench(main)
