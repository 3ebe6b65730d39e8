"""Benchmark: one hour of the merchant-risk job over a reference-size ledger.

Run: .venv/bin/python bench/bench_merchant_risk.py  (the stack must be up: make up)
A simulation at the reference population (5,000 customers, 10,000 terminals) over 40 days
is copied into a database of its own (transactions and labels), and the job computes and
publishes the hour after the data ends — the 30-day window holds ~290,000 transactions —
to a topic of its own; both are dropped afterwards. Reported: the job's time per hour
(query, values, publish), split, median over --runs; merchants published.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import typer
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.console import Console
from rich.table import Table

from bench.common import run_bench, use_stack_connections
from decision_core.features.merchant import HOUR_MS
from deploy.topics import TopicAdmin, apply
from fraudsim.simulate import SimConfig, simulate
from fraudsim.tables import TransactionColumns, label_records, labels_table, transactions_table
from ledger_sink.labels import LabelWriter
from ledger_sink.migrate import upgrade
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import MERCHANT_RISK
from stream_agents.merchant_risk.compute import changes, records_for_hour
from stream_agents.merchant_risk.job import MerchantRiskJob, MerchantRiskSettings
from stream_agents.merchant_risk.ledger import window_counts

console = Console()
RESULTS = Path(__file__).parent / "results" / "merchant_risk.json"


@contextmanager
def migrated_database() -> Iterator[str]:
    """A database of this run's own, migrated to head, dropped afterwards."""
    postgres = PostgresConnection()
    app, admin = postgres.dsn.get_secret_value(), postgres.admin_dsn.get_secret_value()
    name = f"bench_{uuid.uuid4().hex}"
    owner = str(conninfo_to_dict(app)["user"])
    create = sql.SQL("CREATE DATABASE {} OWNER {}")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(create.format(sql.Identifier(name), sql.Identifier(owner)))
    try:
        dsn = make_conninfo(app, dbname=name)
        upgrade(dsn)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def fill(dsn: str, columns: TransactionColumns, labels: object) -> int:
    txs = [columns.record(i) for i in range(len(columns))]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY accounts (account_id) FROM STDIN") as copy:
            for account in sorted({t.account_id for t in txs}):
                copy.write_row((account,))
        fields = "transaction_id, account_id, card_token, amount, currency, merchant_id, "
        fields += "country, channel, event_ts, type"
        with cur.copy(f"COPY transactions ({fields}) FROM STDIN") as copy:
            for t in txs:
                copy.write_row((t.transaction_id, t.account_id, t.card_token, t.amount,
                                t.currency, t.merchant_id, t.country, str(t.channel),
                                t.timestamp, str(t.type)))  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE transactions")
    writer = LabelWriter(dsn)
    writer.write(label_records(labels))
    writer.close()
    return len(txs)


def main(runs: int = typer.Option(3, help="Hours computed; the median is reported.")) -> None:
    use_stack_connections()  # the stack's generated passwords, as every benchmark
    with console.status("simulating 40 days at the reference population"):
        data = simulate(SimConfig(customers=5_000, terminals=10_000, days=40, seed=0))
        columns = TransactionColumns.from_table(transactions_table(data))
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    admin = TopicAdmin(KafkaConnection())
    apply(admin, [MERCHANT_RISK.prefixed(prefix)])
    try:
        with migrated_database() as dsn:
            with console.status("copying the ledger"):
                rows = fill(dsn, columns, labels_table(data))
            hour = max(columns.ts_ms) // HOUR_MS + 1
            settings = MerchantRiskSettings(
                kafka=KafkaConnection(topic_prefix=prefix), postgres=PostgresConnection(dsn=dsn)
            )
            laps = [measure(settings, dsn, hour) for _ in range(runs)]
    finally:
        admin.delete([f"{prefix}{MERCHANT_RISK.name}"])
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.system()}",
        "ledger_transactions": rows,
        "merchants_published": laps[-1]["merchants"],
        **{f"{k}_s_median": round(statistics.median(lap[k] for lap in laps), 3)
           for k in ("query", "values", "publish", "job_total")},
    }  # fmt: skip
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title="merchant-risk job, one hour (median)")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)


def measure(settings: MerchantRiskSettings, dsn: str, hour: int) -> dict[str, float]:
    """The job's parts timed one by one, then the whole job as it runs."""
    with psycopg.connect(dsn) as conn:
        began = time.perf_counter()
        window = window_counts(conn, hour)
        queried = time.perf_counter()
    current = records_for_hour(window, hour, datetime.now(UTC))
    computed = time.perf_counter()
    job = MerchantRiskJob(settings)
    try:
        job._publisher.publish(changes(set(), current))  # noqa: SLF001 - the publish alone
        published = time.perf_counter()
        report = job.run_hour(hour)
    finally:
        job.close()
    return {
        "query": queried - began,
        "values": computed - queried,
        "publish": published - computed,
        "job_total": report.seconds,
        "merchants": report.published,
    }


if __name__ == "__main__":
    run_bench(main)
