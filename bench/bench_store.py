"""Benchmark: the agents' feature-table store, faust's memory store against rocksdb.

Run from the repository root: .venv/bin/python -m bench.bench_store [--quick]
(stack up).

1. Start-up: the feature-table changelog of N accounts is written straight to its topic,
   under the agent's keys and partitions (murmur2 of the account id, as the transactions
   are), one record per account (a fully compacted changelog: the best case for a full
   rebuild). Each value is a real account state: ~60 transactions over 30 days (the
   reference simulation's ~2 a day), with its own transaction ids so that lz4 cannot fold
   accounts together. A worker is then started on it and timed from process start to
   faust's "[^Worker]: Ready" (logged once table recovery is done); its RSS is read then.
   memory: started twice (it rebuilds the whole changelog every time); rocksdb: first on
   an empty data dir (the whole changelog, into rocksdb), then again on the same dir
   (only the changelog past the offsets it persisted).
2. Steady state: one worker decides a backlog (seed rules, a small XGBoost model) with
   each store, in ABBA order over ``--rounds``; rate = decisions / (last decision - first
   decision), by the decisions' broker timestamps.

Writes bench/results/store.json. The machine is shared: compare figures within one run.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from bench.bench_agents import decisions
from bench.common import producer, run_bench, seed_reference, write_results
from decision_core.features import AccountFeatures, AccountWindows, encode_state
from decision_core.transaction_features import FEATURE_CONFIG, feature_event
from deploy.topics import TopicAdmin, apply
from schemas import kafka_edge
from schemas.codec import encode_transaction
from schemas.connections import KafkaConnection
from schemas.enums import Channel, TxType
from schemas.records import Transaction
from schemas.topics import TRANSACTIONS, TopicSpec, declared_topics
from tests.support.agents import changelog_topic
from tests.support.models import announce_model, train_tiny_model

RESULTS = Path(__file__).with_name("results") / "store.json"
BOOTSTRAP = KafkaConnection().bootstrap_servers
PARTITIONS = 12
READY = "[^Worker]: Ready"
STORES = {"memory": "memory://", "rocksdb": "rocksdb://"}
# A tokenised card, never a card number (the agent dead-letters those).
CARD = "tok_abcdefgh"
console = Console()


@dataclass(frozen=True, slots=True)
class Start:
    """One worker start: seconds to ready, of which faust's own start (table recovery
    included; the rest is imports and loading rules and models), and its memory then."""

    seconds: float
    faust_s: float
    rss_mib: float


def history(account: int, events: int, end: datetime) -> list[Transaction]:
    """An account's last 30 days: ``events`` transactions, a few merchants, one trip."""
    step = timedelta(days=30) / events
    return [
        Transaction(
            transaction_id=str(uuid.uuid4()),
            account_id=f"acct-{account}",
            card_token=CARD,
            amount=Decimal(f"{5 + (n * 37 + account) % 400}.{n % 100:02d}"),
            currency="INR",
            merchant_id=f"m-{(n * 7 + account) % 23}",
            country="FR" if n % 17 == 16 else "IN",
            channel=Channel.POS,
            timestamp=end - step * (events - n),
            type=TxType.DEBIT,
            device_id=f"dev-{account % 3}",
            lat=19.07 + (n % 5) / 100,
            lon=72.87 + (n % 7) / 100,
        )
        for n in range(events)
    ]


def state_templates(count: int, events: int) -> list[AccountWindows]:
    """Account states computed by the feature code."""
    end = datetime.now(UTC)
    templates = []
    for account in range(count):
        state = AccountFeatures(FEATURE_CONFIG)
        for offset, tx in enumerate(history(account, events, end)):
            state.observe_at(feature_event(tx), account % PARTITIONS, offset)
        templates.append(state.state)
    return templates


def account_state(template: AccountWindows) -> bytes:
    """The template, encoded, with fresh transaction ids."""
    ids = [str(uuid.UUID(bytes=os.urandom(16))) for _ in template.ids]
    seen = [list(template.seen_countries), list(template.seen_devices)]
    fresh = AccountWindows.restore(
        template.config,
        template.next_seq,
        [template.ts, ids, *template.columns()[2:]],
        [*seen, list(template.seen_merchants)],
        template.applied_offsets,
    )
    return encode_state(fresh)


def write_changelog(prefix: str, accounts: int, events: int) -> int:
    """The changelog of ``accounts`` account states; returns its size in bytes."""
    topic = changelog_topic(prefix)
    spec = TopicSpec(topic, PARTITIONS, "bench changelog", {"cleanup.policy": "compact"}, 1)
    TopicAdmin(KafkaConnection()).create([spec])
    templates = state_templates(16, events)
    out = kafka_edge.producer(
        KafkaConnection(),
        **{"linger.ms": 20, "compression.type": "lz4", "queue.buffering.max.kbytes": 262_144},
    )
    total = 0
    for account in range(accounts):
        value = account_state(templates[account % len(templates)])
        total += len(value)
        while True:
            try:
                out.produce(topic, value, f"acct-{account}".encode())
                break
            except BufferError:
                out.poll(0.05)
        out.poll(0)
    out.flush(120)
    return total


def worker_env(prefix: str, store: str, data: Path, registry: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
        "SENTINEL_AGENTS_STORE": store,
        "SENTINEL_AGENTS_DATA_DIR": str(data),
        "SENTINEL_AGENTS_MODEL_REGISTRY": str(registry),
    }


def start(
    env: dict[str, str], log: Path, timeout_s: float = 1200
) -> tuple[subprocess.Popen[bytes], Start]:
    """A worker, once ready; the time and RSS of its start."""
    sentinel = str(Path(sys.executable).with_name("sentinel"))
    began = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [sentinel, "agents", "run"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = began + timeout_s
    while READY not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.perf_counter() > deadline:
            stop(proc)
            raise RuntimeError(f"worker not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    return proc, Start(seconds, faust_seconds(log.read_text()), rss_mib(proc.pid))


def faust_seconds(text: str) -> float:
    """From the worker's "Starting..." to its "Ready", by the log's own timestamps."""
    stamps = {}
    for line in text.splitlines():
        for marker in ("[^Worker]: Starting...", READY):
            if marker in line and marker not in stamps:
                stamps[marker] = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").replace(
                    tzinfo=UTC
                )
    return (stamps[READY] - stamps["[^Worker]: Starting..."]).total_seconds()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def startup_phase(
    accounts: int, events: int, registry: Path, version: str, workdir: Path
) -> dict[str, Any]:
    """Start-up times of each store on one changelog of ``accounts`` states."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    apply(TopicAdmin(KafkaConnection()), declared_topics(prefix))
    announce_model(prefix, version)
    try:
        written = time.perf_counter()
        size = write_changelog(prefix, accounts, events)
        console.print(
            f"{accounts:,} accounts: changelog {size / 2**20:,.0f} MiB written in "
            f"{time.perf_counter() - written:.1f} s"
        )
        runs: dict[str, Any] = {"accounts": accounts, "changelog_mib": size / 2**20}
        for name, url in STORES.items():
            data = workdir / f"{prefix}{name}"
            data.mkdir()
            env = worker_env(prefix, url, data, registry)
            for attempt in ("first", "restart"):
                proc, run = start(env, data / f"{attempt}.log")
                stop(proc)
                runs[f"{name}_{attempt}_s"] = run.seconds
                runs[f"{name}_{attempt}_faust_s"] = run.faust_s
                runs[f"{name}_{attempt}_rss_mib"] = run.rss_mib
                console.print(
                    f"  {name} {attempt}: {run.seconds:.1f} s (faust {run.faust_s:.1f} s), "
                    f"{run.rss_mib:,.0f} MiB"
                )
        return runs
    finally:
        drop_topics(prefix)


def backlog(prefix: str, accounts: int, per_account: int) -> int:
    """``per_account`` transactions for each of ``accounts`` accounts, interleaved."""
    out = producer()
    topic = f"{prefix}{TRANSACTIONS.name}"
    begin = datetime.now(UTC) - timedelta(hours=2)
    count = 0
    for n in range(per_account):
        for account in range(accounts):
            tx = Transaction(
                transaction_id=str(uuid.uuid4()),
                account_id=f"acct-{account}",
                card_token=CARD,
                amount=Decimal(f"{10 + (n * 7 + account) % 90}.25"),
                currency="INR",
                merchant_id=f"m-{(n + account) % 5}",
                country="BR" if n % 9 == 8 else "IN",
                channel=Channel.POS,
                timestamp=begin + timedelta(minutes=n, milliseconds=account),
                type=TxType.DEBIT,
            )
            while True:
                try:
                    out.produce(topic, encode_transaction(tx), tx.account_id.encode())
                    break
                except BufferError:
                    out.poll(0.05)
            out.poll(0)
            count += 1
    out.flush(60)
    return count


def throughput_phase(
    store: str, accounts: int, per_account: int, registry: Path, version: str, workdir: Path
) -> float:
    """Decisions/s of one worker with ``store`` on a fresh backlog."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    apply(TopicAdmin(KafkaConnection()), declared_topics(prefix))
    announce_model(prefix, version)
    seed_reference(producer(), prefix)
    data = workdir / f"{prefix}{store}"
    data.mkdir()
    try:
        expected = backlog(prefix, accounts, per_account)
        proc, _ = start(worker_env(prefix, STORES[store], data, registry), data / "worker.log")
        try:
            done = decisions(prefix, expected, timeout_s=600)
        finally:
            stop(proc)
        if len(done) < expected:
            raise RuntimeError(f"{store}: {len(done)} of {expected} decisions")
        stamps = sorted(ts for _tid, ts in done)
        return len(stamps) / max(1e-3, (stamps[-1] - stamps[0]) / 1000)
    finally:
        drop_topics(prefix)


def drop_topics(prefix: str) -> None:
    admin = TopicAdmin(KafkaConnection())
    names = [s.name for s in declared_topics(prefix)] + [changelog_topic(prefix)]
    existing = admin.admin.list_topics(timeout=10).topics
    admin.delete(n for n in names if n in existing)


def main(
    quick: bool = typer.Option(False, help="Small sizes (about 2 min)."),
    sizes: str = typer.Option("", help="Accounts in the changelog, comma-separated."),
    events: int = typer.Option(60, help="Transactions in each account's state (30 days)."),
    accounts: int = typer.Option(10_000, help="Accounts of the throughput backlog."),
    per_account: int = typer.Option(4, help="Transactions per account in the backlog."),
    rounds: int = typer.Option(2, help="Throughput runs per store, in ABBA order (0: none)."),
    out: str = typer.Option("", help="Where to write the results (default store.json)."),
) -> None:
    counts = [int(s) for s in sizes.split(",")] if sizes else [10_000, 100_000]
    if quick:
        counts, accounts, per_account = [2_000, 10_000], 2_000, 4
    workdir = Path(tempfile.mkdtemp(prefix="bench-store-"))
    began = time.perf_counter()
    try:
        registry = workdir / "models"
        version = train_tiny_model(registry)
        startup = [startup_phase(n, events, registry, version, workdir) for n in counts]
        rates = throughput(rounds, accounts, per_account, registry, version, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the rocksdb files: ~0.6x the changelog
    report(
        Path(out) if out else RESULTS,
        {
            "state_events_per_account": events,
            "startup": startup,
            "throughput_backlog": accounts * per_account,
            "throughput_accounts": accounts,
            **{f"{store}_decisions_per_s": runs for store, runs in rates.items()},
            **{
                f"{store}_decisions_per_s_mean": statistics.fmean(runs)
                for store, runs in rates.items()
                if runs
            },
            "run_seconds": time.perf_counter() - began,
        },
    )


def throughput(
    rounds: int, accounts: int, per_account: int, registry: Path, version: str, workdir: Path
) -> dict[str, list[float]]:
    """Decisions/s of each store, ``rounds`` times, in A, B, B, A, ... order: the load
    from the rest of the machine drifts."""
    order = [list(STORES) if n % 2 == 0 else list(STORES)[::-1] for n in range(rounds)]
    rates: dict[str, list[float]] = {store: [] for store in STORES}
    for store in (store for pair in order for store in pair):
        rate = throughput_phase(store, accounts, per_account, registry, version, workdir)
        console.print(f"{store}: {rate:,.0f} decisions/s")
        rates[store].append(rate)
    return rates


def report(out: Path, result: dict[str, Any]) -> None:
    table = Table(title=f"feature-table store, one worker, {os.cpu_count()} cores (shared)")
    table.add_column("accounts", justify="right")
    table.add_column("changelog", justify="right")
    for name in STORES:
        for attempt in ("first", "restart"):
            table.add_column(f"{name} {attempt}", justify="right")
    for run in result["startup"]:
        cells = [f"{run['accounts']:,}", f"{run['changelog_mib']:,.0f} MiB"]
        for name in STORES:
            for attempt in ("first", "restart"):
                seconds = run[f"{name}_{attempt}_s"]
                faust = run[f"{name}_{attempt}_faust_s"]
                rss = run[f"{name}_{attempt}_rss_mib"]
                cells.append(f"{seconds:.1f} s ({faust:.1f}), {rss:,.0f} MiB")
        table.add_row(*cells)
    console.print(table)
    for store in STORES:
        runs = ", ".join(f"{rate:,.0f}" for rate in result[f"{store}_decisions_per_s"])
        console.print(f"{store}: {runs} decisions/s")
    write_results(out, result)


if __name__ == "__main__":
    run_bench(main)
