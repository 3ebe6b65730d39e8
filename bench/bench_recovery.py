"""Benchmark: a worker's restart-to-first-decision against the history in its changelog.

Run from the repository root: .venv/bin/python -m bench.bench_recovery [--quick]  (stack up)

For ``--accounts`` accounts, N state updates (``--updates``) are written straight to the
feature table's changelog, as N transactions leave it: keys cycle over the accounts, each
value a real encoded account state (~2.3 KB, 60 transactions over 30 days, fresh UUIDs),
lz4 batches, the agents' murmur2 partitions. The changelog topic carries either

- **declared**: the config of ``schemas.topics.FEATURE_CHANGELOG_CONFIG``, with only
  ``segment.ms`` lowered to 5 s so the bench need not wait 10 minutes for a roll; after the
  writes one more record per partition rolls the last segment, and the bench waits until
  the broker's cleaner is done (the partitions' size on disk stops moving); or
- **legacy**: what faust created before (compact, the broker's 1 GiB / 7-day segments):
  at these sizes nothing rolls, so nothing is ever compacted.

Then one transaction of a new account is produced and one worker (memory store, which
re-reads the whole changelog at every start) is started: timed from process start to
faust's "Ready" (table recovery done) and to its decision's broker timestamp.
Size on disk is read from the local stack's log dir. Writes bench/results/recovery.json.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from bench.bench_agents import decisions
from bench.bench_store import (
    CARD,
    PARTITIONS,
    account_state,
    start,
    state_templates,
    stop,
    worker_env,
)
from bench.common import (
    console,
    measures_table,
    merge_result,
    producer,
    run_bench,
    seed_reference,
    write_results,
)
from deploy.topics import TopicAdmin, apply
from schemas import kafka_edge
from schemas.codec import encode_transaction
from schemas.connections import KafkaConnection
from schemas.enums import Channel, TxType
from schemas.records import Transaction
from schemas.topics import (
    AGENTS_APP_ID,
    FEATURE_CHANGELOG_CONFIG,
    TRANSACTIONS,
    TopicSpec,
    declared_topics,
)
from tests.support.agents import changelog_topic
from tests.support.models import announce_model, train_tiny_model

RESULTS = Path(__file__).with_name("results") / "recovery.json"
BOOTSTRAP = KafkaConnection().bootstrap_servers
LOG_DIR = Path(__file__).resolve().parent.parent / ".stack" / "kafka" / "data"
BENCH_ROLL_MS = 5_000
CONFIGS = {
    "declared": {**FEATURE_CHANGELOG_CONFIG, "segment.ms": str(BENCH_ROLL_MS)},
    "legacy": {"cleanup.policy": "compact"},
}


def disk_bytes(topic: str) -> int:
    """The topic's log segments on the local broker's disk."""
    return sum(
        f.stat().st_size
        for p in range(PARTITIONS)
        for f in (LOG_DIR / f"{topic}-{p}").glob("*.log")
    )


def write_updates(
    topic: str, accounts: int, updates: int, pool: list[bytes], max_on_disk: int
) -> float:
    """Write the updates; whenever the topic's segments on disk pass ``max_on_disk`` bytes,
    pause until the broker's cleaner brings them back under it (a day of updates written
    at once would fill the disk before it could). Returns the seconds paused."""
    out = kafka_edge.producer(
        KafkaConnection(),
        **{"linger.ms": 20, "compression.type": "lz4", "queue.buffering.max.kbytes": 262_144},
    )
    paused = 0.0
    for n in range(updates):
        if n and n % 1_000_000 == 0 and disk_bytes(topic) > max_on_disk:
            out.flush(600)
            began = time.monotonic()
            while disk_bytes(topic) > max_on_disk * 0.5:
                time.sleep(2)
            paused += time.monotonic() - began
        key = f"acct-{n % accounts}".encode()
        while True:
            try:
                out.produce(topic, pool[n % len(pool)], key)
                break
            except BufferError:
                out.poll(0.05)
        if n % 1000 == 0:
            out.poll(0)
    out.flush(600)
    return paused


def roll_and_compact(topic: str, value: bytes, timeout_s: float) -> float:
    """Roll every partition's last segment and wait for the cleaner; seconds waited."""
    time.sleep(BENCH_ROLL_MS / 1000 + 1)
    out = kafka_edge.producer(KafkaConnection())
    for p in range(PARTITIONS):
        out.produce(topic, value, b"bench-roll", partition=p)
    out.flush(30)
    began = time.monotonic()
    last, still = disk_bytes(topic), began
    while time.monotonic() - began < timeout_s:
        time.sleep(2)
        size = disk_bytes(topic)
        if size != last:
            last, still = size, time.monotonic()
        elif time.monotonic() - still > 30:  # the cleaner backs off 15 s between looks
            break
    return time.monotonic() - began


def probe(prefix: str) -> None:
    tx = Transaction(
        transaction_id=str(uuid.uuid4()),
        account_id="acct-probe",
        card_token=CARD,
        amount=Decimal("12.50"),
        currency="INR",
        merchant_id="m-1",
        country="IN",
        channel=Channel.POS,
        timestamp=datetime.now(UTC),
        type=TxType.DEBIT,
    )
    out = producer()
    out.produce(f"{prefix}{TRANSACTIONS.name}", encode_transaction(tx), tx.account_id.encode())
    out.flush(10)


def scenario(
    config: str,
    accounts: int,
    updates: int,
    pool: list[bytes],
    registry: Path,
    version: str,
    max_on_disk: int,
) -> dict[str, Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    admin = TopicAdmin(KafkaConnection())
    topic = changelog_topic(prefix)
    declared = [s for s in declared_topics(prefix) if s.name != topic]
    apply(admin, declared)
    admin.create([TopicSpec(topic, PARTITIONS, "bench changelog", CONFIGS[config], 1)])
    announce_model(prefix, version)
    seed_reference(producer(), prefix)
    workdir = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    try:
        began = time.monotonic()
        paused = write_updates(topic, accounts, updates, pool, max_on_disk)
        written_s, on_disk = time.monotonic() - began, disk_bytes(topic)
        waited = roll_and_compact(topic, pool[0], 900) if config == "declared" else 0.0
        probe(prefix)
        started_ms = time.time() * 1000
        proc, run = start(
            worker_env(prefix, "memory://", workdir, registry), workdir / "w.log", 900
        )
        try:
            [(_tid, decided_ms)] = decisions(prefix, 1, timeout_s=300)
        finally:
            stop(proc)
        result = {
            "config": config,
            "accounts": accounts,
            "updates": updates,
            "produced_mib": round(updates * sum(map(len, pool)) / len(pool) / 2**20, 1),
            # The cleaner works while the bench writes (segments roll every 5 s).
            "on_disk_after_write_mib": round(on_disk / 2**20, 1),
            "write_s": round(written_s, 1),
            "paused_for_cleaner_s": round(paused, 1),
            "compaction_wait_s": round(waited, 1),
            "on_disk_at_start_mib": round(disk_bytes(topic) / 2**20, 1),
            "ready_s": round(run.seconds, 2),
            "faust_recovery_s": round(run.faust_s, 2),
            "first_decision_s": round((decided_ms - started_ms) / 1000, 2),
            "rss_mib": round(run.rss_mib),
        }
        measures_table(f"{config}: {updates:,} updates over {accounts:,} accounts", result, 1)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        existing = admin.admin.list_topics(timeout=10).topics
        leader = f"{prefix}{AGENTS_APP_ID}-__assignor-__leader"  # faust's own
        admin.delete(n for n in [*(s.name for s in declared), topic, leader] if n in existing)


def main(
    accounts: int = typer.Option(20_000, help="Accounts whose states the changelog holds."),
    updates: str = typer.Option(
        "20000,360000,1200000,3600000",
        help="State updates (transactions) per run, comma-separated.",
    ),
    legacy_max: int = typer.Option(1_200_000, help="Largest run also made with the legacy config."),
    hours: str = typer.Option(
        "", help="Instead of --updates: hours of traffic at --rate, comma-separated (1,24)."
    ),
    rate: int = typer.Option(1_000, help="Transactions per second, for --hours."),
    max_on_disk_mib: int = typer.Option(
        4_096, help="Pause writing while the changelog's segments on disk exceed this."
    ),
    quick: bool = typer.Option(False, help="2,000 accounts, 2,000 and 20,000 updates."),
    write: bool = typer.Option(True, help="Write the results."),
    out: Path = typer.Option(RESULTS, help="Results file."),  # noqa: B008
    failover: Path | None = typer.Option(  # noqa: B008
        None,
        help="Also record the --hours runs as restart_after_traffic in this file "
        "(bench/results/failover.json, where the issue's targets are read).",
    ),
) -> None:
    counts = [int(n) for n in updates.split(",")]
    if hours:
        counts = [round(float(h) * 3600 * rate) for h in hours.split(",")]
        legacy_max = min(legacy_max, 0)
    if quick:
        accounts, counts, legacy_max = 2_000, [2_000, 20_000], 20_000
    workdir = Path(tempfile.mkdtemp(prefix="bench-recovery-models-"))
    try:
        version = train_tiny_model(workdir)
        templates = state_templates(64, 60)
        # Consecutive values from different accounts: lz4 batches fold nothing a real one would not.
        pool = [account_state(t) for _ in range(64) for t in templates]
        console.print(f"state values: {sum(map(len, pool)) / len(pool):,.0f} bytes on average")
        runs = []
        for n in counts:
            for config in ("declared", "legacy"):
                if config == "legacy" and n > legacy_max:
                    continue
                runs.append(
                    scenario(config, accounts, n, pool, workdir, version, max_on_disk_mib * 2**20)
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "state_bytes": round(sum(map(len, pool)) / len(pool)),
        "changelog_config": CONFIGS,
        "runs": runs,
    }
    if write:
        write_results(out, result)
    if write and failover and hours:
        restarts = {
            f"after_{h}_h": {
                "first_decision_s": run["first_decision_s"],
                "updates": run["updates"],
                "on_disk_at_start_mib": run["on_disk_at_start_mib"],
            }
            for h, run in zip(hours.split(","), runs, strict=True)
        }
        merge_result(
            failover,
            "restart_after_traffic",
            {
                "store": "memory:// (a fresh worker: the whole compacted changelog re-read)",
                "accounts": accounts,
                "rate_per_s": rate,
                "results": str(out),
                **restarts,
            },
        )


if __name__ == "__main__":
    run_bench(main)
