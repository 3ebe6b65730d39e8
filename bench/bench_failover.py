"""Benchmark: how long an agent worker's partitions stop deciding when it is killed.

Run from the repository root: .venv/bin/python -m bench.bench_failover   (stack up: make up)

Steady traffic (``--rate`` tx/s) through ``--workers`` agent workers on a test prefix with
a tiny model; every ``--every`` seconds a random worker is killed with SIGKILL and started
again at once (same instance id, same data dir), and once, at the end, one is killed and
left dead, so the others must take its partitions over. Per kill and per partition the
*decision gap* is the time from the kill to that partition's next decision (its broker
timestamp): the killed worker's partitions (from the group's description, with static
membership) tell the failover, the others whether the group stopped them too.

Afterwards every transaction must have a decision, with one decision id, and the table's
changelog must equal a recomputation over the source records. Writes
bench/results/failover.json (or ``--out``) and a PNG of ingest->decision latency over time,
kills marked, beside it.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from bench.bench_store import write_changelog
from bench.common import (
    console,
    kept_results,
    measures_table,
    producer,
    run_bench,
    seed_reference,
    write_results,
)
from bench.failover_traffic import DecisionWatch, Feeder
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.topics import TRANSACTIONS
from tests.support.agents import (
    agents_group,
    applied_marks,
    by_transaction,
    changelog_states,
    create_topics,
    delete_topics,
    last_offsets,
    read_topic,
    replayed_states,
)
from tests.support.api import free_port
from tests.support.models import announce_model, train_tiny_model

RESULTS = Path(__file__).with_name("results") / "failover.json"
BOOTSTRAP = KafkaConnection().bootstrap_servers
# How a worker is started: the lean module entry, or the whole CLI (``--entry sentinel``).
ENTRIES = {
    "module": [sys.executable, "-m", "stream_agents", "run"],
    "sentinel": [str(Path(sys.executable).with_name("sentinel")), "agents", "run"],
}


@dataclass
class Kill:
    """One SIGKILL: when (wall clock, s), which worker, its source partitions just before
    (None when the group cannot tell: dynamic membership), and whether it came back."""

    at: float
    worker: int
    restarted: bool
    partitions: list[int] | None


class Pool:
    """The agent worker processes, each with its own instance id, data dir and log."""

    def __init__(self, env: dict[str, str], root: Path, static: bool, entry: str) -> None:
        self.env, self.root, self.static = env, root, static
        self.command = ENTRIES[entry]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.ports: dict[int, int] = {}

    def start(self, n: int) -> None:
        port = self.ports.setdefault(n, free_port())
        env = {
            **self.env,
            "SENTINEL_AGENTS_DATA_DIR": str(self.root / f"data-{n}"),
            "SENTINEL_AGENTS_METRICS_PORT": str(port),
        }
        if self.static:
            env["SENTINEL_AGENTS_INSTANCE_ID"] = f"worker-{n}"
        with (self.root / f"worker-{n}.log").open("ab") as log:
            self.procs[n] = subprocess.Popen(  # noqa: S603 - our own console script
                self.command, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, n: int) -> float:
        proc = self.procs.pop(n)
        at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return at

    def standbys_ready(self, n: int) -> bool:
        """Whether worker ``n``'s standby partitions have caught up (its metrics)."""
        url = f"http://127.0.0.1:{self.ports[n]}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
                text = answer.read().decode()
        except OSError:
            return False
        return "\nsentinel_agent_standbys_ready 1.0" in text

    def wait_standbys_ready(self, timeout: float) -> float:
        """Seconds until every live worker's standbys have caught up (``timeout`` at most)."""
        began = time.time()
        while time.time() - began < timeout:
            if all(self.standbys_ready(n) for n in self.procs):
                break
            time.sleep(0.5)
        return round(time.time() - began, 1)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def owned_partitions(prefix: str, worker: int) -> list[int] | None:
    """The source partitions the group assigns to ``worker-N`` (static members only)."""
    admin = kafka_edge.admin(KafkaConnection())
    group = agents_group(prefix)
    description = admin.describe_consumer_groups([group])[group].result(timeout=10)
    topic = f"{prefix}{TRANSACTIONS.name}"
    for member in description.members:
        if member.group_instance_id == f"worker-{worker}":
            return sorted(
                tp.partition for tp in member.assignment.topic_partitions if tp.topic == topic
            )
    return None


def decision_gaps(at: float, until: float, stamps: list[int]) -> tuple[float | None, float]:
    """For one partition: seconds from the kill at ``at`` to its first decision stamped
    after it (None if none before the run ended), and its longest time without a decision
    from the kill until ``until`` (a rebalance stops partitions the kill did not touch)."""
    within = sorted(ms / 1000 for ms in stamps if at * 1000 < ms <= until * 1000)
    first = within[0] - at if within else None
    points = [at, *within] if within else [at, until]
    return first, max(b - a for a, b in zip(points, points[1:], strict=False))


def summary(gaps: list[float | None]) -> dict[str, float | int | None]:
    found = [g for g in gaps if g is not None]
    return {
        "partitions": len(gaps),
        "never_decided_again": len(gaps) - len(found),
        "p50_s": round(statistics.median(found), 2) if found else None,
        "max_s": round(max(found), 2) if found else None,
    }


def main(
    workers: int = typer.Option(3, help="Agent workers (2-3)."),
    rate: int = typer.Option(250, help="Transactions per second produced."),
    duration: float = typer.Option(180.0, help="Seconds of kill-and-restart before the last kill."),
    every: float = typer.Option(20.0, help="Seconds between kills."),
    warmup: float = typer.Option(20.0, help="Seconds of traffic before the first kill."),
    after_last: float = typer.Option(30.0, help="Seconds of traffic after the unrestarted kill."),
    static: bool = typer.Option(True, help="Static membership: SENTINEL_AGENTS_INSTANCE_ID."),
    store: str = typer.Option("rocksdb://", help="SENTINEL_AGENTS_STORE."),
    preload: int = typer.Option(
        0,
        help="Account states written to the changelog first (start-up and takeover of a "
        "large table; the state check is then skipped: they come from no source record).",
    ),
    entry: str = typer.Option("module", help="Start workers with 'module' or 'sentinel'."),
    agent_env: list[str] = typer.Option(  # noqa: B008 - typer's way to declare the option
        [], "--env", help="More worker settings, NAME=VALUE (repeatable)."
    ),
    seed: int = typer.Option(7, help="Random seed for the choice of victims."),
    settle: float = typer.Option(
        600.0,
        help="Before the first kill and the unrestarted one, wait (at most this many seconds) "
        "until every worker's standby partitions have caught up (0: no wait).",
    ),
    check_state: bool = typer.Option(True, help="Compare the changelog with a recomputation."),
    out: Path = typer.Option(RESULTS, help="Results file (the PNG goes beside it)."),  # noqa: B008
) -> None:
    pick = random.Random(seed)  # noqa: S311 - a benchmark's victim, not a secret
    prefix = f"bench-failover-{uuid.uuid4().hex[:8]}."
    root = Path(tempfile.mkdtemp(prefix="failover-"))
    create_topics(prefix)
    if preload:
        began = time.perf_counter()
        size = write_changelog(prefix, preload, events=60)
        console.print(
            f"preloaded {preload:,} account states ({size / 2**20:,.0f} MiB) "
            f"in {time.perf_counter() - began:.0f} s"
        )
        check_state = False
    announce_model(prefix, train_tiny_model(root / "models"))
    seed_reference(producer(), prefix)
    env = {
        **os.environ,
        "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
        "SENTINEL_AGENTS_MODEL_REGISTRY": str(root / "models"),
        "SENTINEL_AGENTS_STORE": store,
        **dict(item.split("=", 1) for item in agent_env),
    }
    pool = Pool(env, root, static, entry)
    load_before = os.getloadavg()
    kills: list[Kill] = []
    loading = preload / 500  # the longest a preloaded table may take to load, in seconds
    feeder = Feeder(prefix, rate, loading + warmup + duration + 2 * settle + after_last + 10)
    watch = DecisionWatch(prefix)
    try:
        started = time.time()
        for n in range(workers):
            pool.start(n)
        watch.start()
        feeder.start()
        # A preloaded table is first loaded into each worker's store: minutes per million.
        watch.wait_until_deciding(timeout=120 + loading)
        first_decision_s = time.time() - started
        # Kills hit a group in its steady state: standbys caught up, as a long-running
        # group's are (a preloaded table's take minutes to follow at first).
        settled_s = [pool.wait_standbys_ready(settle)] if settle else []
        began = time.time()
        time.sleep(warmup)
        while time.time() - began < warmup + duration:
            victim = pick.choice(sorted(pool.procs))
            kills.append(kill_one(pool, prefix, victim, restart=True))
            time.sleep(every)
        settled_s += [pool.wait_standbys_ready(settle)] if settle else []
        victim = pick.choice(sorted(pool.procs))
        kills.append(kill_one(pool, prefix, victim, restart=False))
        time.sleep(after_last)
        feeder.stop()
        feeder.join()
        undecided = watch.wait_for(feeder.sent_ids(), timeout=180)
        pool.stop()
        watch.stop()
        result = measure(kills, feeder, watch, undecided, root)
        result["correctness"] = correctness(prefix, feeder.sent_ids(), check_state)
        result["settings"] = {
            "workers": workers,
            "rate_per_s": rate,
            "static": static,
            "store": store,
            "preloaded_accounts": preload,
            "start_to_first_decision_s": round(first_decision_s, 1),
            "every_s": every,
            # Waits for warm standbys: before the first kill, before the unrestarted one.
            "standbys_caught_up_wait_s": settled_s,
            "env": agent_env,
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "logs": str(root),
        }
        # bench_recovery's restart-after-traffic figures live in the same file.
        write_results(out, {**result, **kept_results(out, "restart_after_traffic")})
        plot(result, feeder, watch, kills, out.with_suffix(".png"))
        report(result)
    finally:
        pool.stop()
        watch.stop()
        feeder.stop()
        delete_topics(prefix)


def kill_one(pool: Pool, prefix: str, victim: int, restart: bool) -> Kill:
    partitions = owned_partitions(prefix, victim) if pool.static else None
    at = pool.kill(victim)
    if restart:
        pool.start(victim)
    what = "restarted" if restart else "left dead"
    console.print(f"killed worker-{victim} ({partitions}), {what}")
    return Kill(at, victim, restart, partitions)


def measure(
    kills: list[Kill], feeder: Feeder, watch: DecisionWatch, undecided: int, logs: Path
) -> dict[str, Any]:
    where = feeder.partitions()
    stamps: dict[int, list[int]] = defaultdict(list)
    for tid, ms in watch.stamps():
        if tid in where:
            stamps[where[tid]].append(ms)
    found: dict[str, list[float | None]] = defaultdict(list)
    per_kill = []
    for n, kill in enumerate(kills):
        until = (
            kills[n + 1].at if n + 1 < len(kills) else max(max(v) for v in stamps.values()) / 1000
        )
        kind = "restart" if kill.restarted else "takeover"
        victims = kill.partitions if kill.partitions is not None else sorted(stamps)
        gaps = {p: decision_gaps(kill.at, until, stamps[p]) for p in sorted(stamps)}
        for p, (first, stall) in gaps.items():
            if p in victims:
                found[kind].append(first)
                found[f"{kind}_longest_stall"].append(stall)
            else:
                found[f"{kind}_other_partitions_longest_stall"].append(stall)
        per_kill.append(
            {
                "at": round(kill.at, 3),
                "ready_s": _round(ready_after(logs / f"worker-{kill.worker}.log", kill.at))
                if kill.restarted
                else None,
                "worker": kill.worker,
                "restarted": kill.restarted,
                "partitions": kill.partitions,
                "gap_s": {p: _round(first) for p, (first, _) in gaps.items()},
                "longest_stall_s": {p: _round(stall) for p, (_, stall) in gaps.items()},
            }
        )
    return {
        **{name: summary(values) for name, values in sorted(found.items())},
        "produced": len(where),
        "undecided_at_end": undecided,
        "kills": per_kill,
    }


def ready_after(log: Path, at: float) -> float | None:
    """Seconds from ``at`` to the first "Worker: Ready" line after it in a worker's log."""
    for line in log.read_text(errors="replace").splitlines():
        if "[^Worker]: Ready" in line:
            stamp = time.mktime(time.strptime(line[1:20], "%Y-%m-%d %H:%M:%S"))
            stamp += int(line[21:24]) / 1000
            if stamp > at:
                return stamp - at
    return None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def correctness(prefix: str, sent: set[str], check_state: bool) -> dict[str, Any]:
    from schemas.codec import decode_decision
    from schemas.topics import DECISIONS

    decisions = [decode_decision(m.value()) for m in read_topic(f"{prefix}{DECISIONS.name}")]
    grouped = dict(by_transaction(decisions))
    found: dict[str, Any] = {
        "transactions_without_decision": len(sent - set(grouped)),
        "decisions_for_unknown_transactions": len(set(grouped) - sent),
        "transactions_with_two_decision_ids": sum(
            len({d.decision_id for d in ds}) > 1 for ds in grouped.values()
        ),
        "decision_records_per_transaction_max": max(len(ds) for ds in grouped.values()),
    }
    if check_state:
        written, replayed = changelog_states(prefix), replayed_states(prefix)
        found["changelog_equals_recomputation"] = written == replayed
        found["accounts_differing"] = sum(
            written.get(a) != replayed.get(a) for a in set(written) | set(replayed)
        )
        found["marks_at_last_offsets"] = applied_marks(prefix) == last_offsets(prefix)
    return found


def report(result: dict[str, Any]) -> None:
    flat = {
        f"{part} {key}": value
        for part, measures in result.items()
        if part.startswith(("restart", "takeover"))
        for key, value in measures.items()
    }
    measures_table("Decision gap after SIGKILL", {**flat, **result["correctness"]})


def plot(
    result: dict[str, Any], feeder: Feeder, watch: DecisionWatch, kills: list[Kill], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or in CI
    import matplotlib.pyplot as plt

    sent = feeder.stamps()
    first: dict[str, int] = {}
    for tid, ms in watch.stamps():
        first[tid] = min(ms, first.get(tid, ms))
    t0 = min(sent.values()) / 1000
    points = sorted(
        (sent[t] / 1000 - t0, (ms - sent[t]) / 1000) for t, ms in first.items() if t in sent
    )
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot([p[0] for p in points], [p[1] for p in points], ".", markersize=2, label="transaction")
    for kill in kills:
        style = {"color": "tab:red" if kill.restarted else "black", "linestyle": "--", "lw": 1}
        ax.axvline(kill.at - t0, **style)
    settings = result.get("settings", {})
    ax.set_title(
        f"ingest->decision latency; SIGKILL + restart (red), SIGKILL, no restart (black); "
        f"static={settings.get('static')} {settings.get('store')}",
        fontsize=9,
    )
    ax.set_xlabel("seconds since the first transaction")
    ax.set_ylabel("latency (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    console.print(f"wrote {path}")


if __name__ == "__main__":
    run_bench(main)
