"""Benchmark: what the agents' transaction id claims add to a micro-batch (issue 18, item 8).

Run from the repository root: .venv/bin/python -m bench.bench_claims   (stack up: make up)

For batches of 1, 50 and 500 fresh transactions (every claim a new key: the common case,
and the dearest one), the wall time of ``TransactionIdClaims.reused`` (hashing each
transaction, one pipelined ``SET NX GET`` per batch to the stack's Redis, reading the
answers) and the CPU it costs this process, median and p99 over ``--repeat`` batches; and
the hashing alone (``claim_of``). The claim's wall time is latency the batch adds; its CPU
is capacity the worker loses. ``pipelined`` rows: the same claims as a pipeline of one
``SET NX GET`` per transaction (as the API sends its few), the alternative the script was
chosen over. The keys expire after 60 s. Writes bench/results/claims.json.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bench.common import run_bench, write_results
from schemas.connections import RedisConnection
from schemas.enums import Channel, TxType
from schemas.records import Transaction
from schemas.transaction_claims import claim_key, claim_of, conflicts, text
from stream_agents.txid_claims import TransactionIdClaims

RESULTS = Path(__file__).with_name("results") / "claims.json"
SIZES = (1, 50, 500)


def templates(n: int) -> list[Transaction]:
    return [
        Transaction(
            transaction_id="",
            account_id=f"acct-{i}",
            card_token="tok_abcdefgh",  # noqa: S106 - a test token, not a secret
            amount=Decimal(f"{10 + i}.25"),
            currency="INR",
            merchant_id=f"m-{i % 5}",
            country="IN",
            channel=Channel.POS,
            timestamp=datetime(2026, 11, 30, 10, i % 60, tzinfo=UTC),
            type=TxType.DEBIT,
        )
        for i in range(n)
    ]


def fresh(template: list[Transaction], n: int) -> list[Transaction]:
    return [
        replace(template[i % len(template)], transaction_id=str(uuid.uuid4())) for i in range(n)
    ]


async def pipelined(claims: TransactionIdClaims, txs: list[Transaction]) -> list[bool]:
    """The alternative: one pipelined SET NX GET per transaction."""
    wanted = [claim_of(tx) for tx in txs]
    pipe = claims.client.pipeline(transaction=False)
    for tid, fingerprint in wanted:
        pipe.set(claim_key(tid), fingerprint, nx=True, get=True, ex=claims.window_s)
    return conflicts(wanted, [text(old) for old in await pipe.execute()])


async def measure(
    size: int, repeat: int, template: list[Transaction], pipeline: bool
) -> dict[str, Any]:
    claims = TransactionIdClaims.connect(RedisConnection().url.get_secret_value(), 60, 1.0)
    claim = (lambda txs: pipelined(claims, txs)) if pipeline else claims.reused
    walls, cpus, hashing = [], [], []
    try:
        await claim(fresh(template, size))  # connect first
        for _ in range(repeat):
            batch = fresh(template, size)
            started, cpu = time.perf_counter(), time.process_time()
            reused = await claim(batch)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            if reused != [False] * size:
                raise RuntimeError("fresh ids were refused: is the registry reachable?")
            started = time.perf_counter()
            for tx in batch:
                claim_of(tx)
            hashing.append(time.perf_counter() - started)
    finally:
        await claims.close()
    return {
        "how": "pipelined" if pipeline else "script",
        "batch": size,
        "wall_ms_p50": 1000 * statistics.median(walls),
        "wall_ms_p99": 1000 * statistics.quantiles(walls, n=100)[98],
        "cpu_ms_p50": 1000 * statistics.median(cpus),
        "hash_ms_p50": 1000 * statistics.median(hashing),
        "wall_us_per_tx": 1e6 * statistics.median(walls) / size,
    }


def main(repeat: int = typer.Option(200, help="batches per size")) -> None:
    template = templates(100)
    rows = [
        asyncio.run(measure(n, repeat, template, pipeline))
        for n in SIZES
        for pipeline in (False, True)
    ]
    table = Table("how", "batch", "wall p50 ms", "wall p99 ms", "CPU p50 ms", "hashing ms", "µs/tx")
    for row in rows:
        table.add_row(
            row["how"],
            str(row["batch"]),
            f"{row['wall_ms_p50']:.2f}",
            f"{row['wall_ms_p99']:.2f}",
            f"{row['cpu_ms_p50']:.2f}",
            f"{row['hash_ms_p50']:.2f}",
            f"{row['wall_us_per_tx']:.1f}",
        )
    Console().print(table)
    write_results(RESULTS, {"repeat": repeat, "sizes": rows})


if __name__ == "__main__":
    run_bench(main)
