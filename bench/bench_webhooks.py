"""Benchmark: what dead webhook subscribers cost the dispatcher, and whether they slow a
live one.

Run: .venv/bin/python bench/bench_webhooks.py  (the stack must be up)
Writes bench/results/webhooks.json.

One `sentinel webhooks run` process (default settings but for the loopback allow-list)
serves subscriptions to every event type: one live local receiver (tests/support/receiver,
keep-alive), and in the "dead" variant ten more whose hosts cannot be reached. Five dead
ones are black holes (a listening socket nobody accepts on: once its queue is full,
connections hang until the request deadline, as behind a firewall that drops), five refuse
connections (a closed port). Events are produced at --rate per second: --warmup seconds
first (the consumer group joined, the dead subscribers' circuits opened), then --seconds
measured; each carries the time it was produced, so the live receiver's arrival time gives
produce-to-delivery latency. Reported per variant: the dispatcher's CPU (user+system, in
cores) over the measured window, its memory, and the live receiver's latency percentiles.

The variants run alternately, --rounds times each, in one run (the machine's noise hits
them alike); the medians of the rounds are reported. --before PATH adds a variant with the
dead subscribers whose dispatcher runs the code of another checkout (its PYTHONPATH).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import typer
from psycopg import AsyncConnection

from bench.bench_sink import database, service, topics
from bench.common import console, measures_table, producer, run_bench, write_results
from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import subscriptions
from schemas.codec import encode_webhook_event
from tests.support.receiver import LOCAL_ENV, LOCAL_POLICY, Receiver

SECRET = "whsec_bench_0123456789"  # noqa: S105 - signs bench traffic only
RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"


@dataclasses.dataclass(frozen=True)
class Variant:
    label: str
    dead: int
    pythonpath: str | None = None  # None: this checkout's code


@contextmanager
def dead_hosts(count: int) -> Iterator[list[str]]:
    """`count` URLs nobody answers: half black holes, half closed ports."""
    holes, urls = [], []
    for n in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if n % 2 == 0:
            sock.listen(0)  # never accepted: the queue fills, then SYNs are dropped
            holes.append(sock)
        else:
            sock.close()  # nothing listens: refused
        urls.append(f"http://127.0.0.1:{port}/dead-{n}")
    try:
        yield urls
    finally:
        for sock in holes:
            sock.close()


def subscribe_all(dsn: str, urls: list[str]) -> None:
    async def create() -> None:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            for url in urls:
                await subscriptions.create(conn, url, ["*"], SECRET, policy=LOCAL_POLICY)

    asyncio.run(create())


def drive(topic: str, rate: int, seconds: float, measured: bool = True) -> int:
    """Produce `rate` events/s for `seconds`, each stamped with when it was produced and
    whether it counts (warm-up events do not)."""
    template = webhook_event(decision(transaction("acct-bench", "12.00")))
    out = producer(linger_ms=2)
    sent, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            payload = json.dumps({"produced_at": time.time(), "n": sent, "measured": measured})
            event = dataclasses.replace(template, event_id=str(uuid.uuid4()), payload_json=payload)
            out.produce(topic, encode_webhook_event(event), f"acct-{sent % 64}".encode())
            sent += 1
        out.poll(0)
        time.sleep(0.005)
    out.flush(30)
    return sent


def dispatcher_process(prefix: str) -> psutil.Process:
    """The `sentinel webhooks run` process `service` started for this prefix."""
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = proc.info["cmdline"] or []
            env = proc.info["environ"] or {}
        except psutil.Error:
            continue
        if cmd[-2:] == ["webhooks", "run"] and env.get("SENTINEL_KAFKA_TOPIC_PREFIX") == prefix:
            return proc
    raise RuntimeError("the dispatcher process was not found")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(variant: Variant, rate: int, seconds: float, warmup: float) -> dict[str, Any]:
    with (
        Receiver(SECRET, keep_alive=True) as live,
        topics() as prefix,
        database() as dsn,
        dead_hosts(variant.dead) as urls,
    ):
        subscribe_all(dsn, [*urls, live.url])
        env = {
            **os.environ,
            **LOCAL_ENV,
            "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
            "SENTINEL_POSTGRES_DSN": dsn,
        }
        if variant.pythonpath is not None:
            env["PYTHONPATH"] = variant.pythonpath
        with service(["webhooks", "run"], env):
            topic = f"{prefix}webhooks"
            warm = drive(topic, rate, warmup, measured=False)
            deadline = time.monotonic() + 60
            while live.count() < warm and time.monotonic() < deadline:
                time.sleep(0.1)
            proc = dispatcher_process(prefix)
            before = proc.cpu_times()
            started = time.perf_counter()
            sent = drive(topic, rate, seconds)
            window = time.perf_counter() - started
            after = proc.cpu_times()
            rss_mb = proc.memory_info().rss / 2**20
            drain = time.monotonic() + 30
            while live.count() < warm + sent and time.monotonic() < drain:
                time.sleep(0.1)
    used = (after.user + after.system) - (before.user + before.system)
    latencies = measured_latencies(live)
    return {
        "dead_subscribers": variant.dead,
        "seconds": round(window, 1),
        "events": sent,
        "dispatcher_cpu_cores": round(used / window, 3),
        "dispatcher_rss_mb": round(rss_mb, 1),
        "live_delivered": len(latencies),
        "live_p50_ms": round(percentile(latencies, 0.50) * 1000, 1) if latencies else None,
        "live_p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "live_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "bad_signatures": live.bad_signatures,
    }


def measured_latencies(live: Receiver) -> list[float]:
    """Produce-to-delivery seconds of each measured event the live receiver accepted."""
    with live.lock:
        arrivals = [(json.loads(live.bodies[e]), at) for e, at in live.arrived.items()]
    return [at - body["produced_at"] for body, at in arrivals if body["measured"]]


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds (counts: the smallest)."""
    keep_min = {"events", "live_delivered"}
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        if key in keep_min:
            out[key] = min(values)
        elif values and isinstance(values[0], int | float):
            out[key] = round(statistics.median(values), 3)
        else:
            out[key] = values[0] if values else None
    return out


def main(
    rate: int = typer.Option(200, help="Events produced per second."),
    seconds: float = typer.Option(30.0, help="How long events are produced and measured."),
    warmup: float = typer.Option(10.0, help="Seconds of traffic before the measured window."),
    dead: int = typer.Option(10, help="Dead subscribers beside the live one."),
    rounds: int = typer.Option(3, help="Rounds; each runs every variant once, alternated."),
    before: str = typer.Option(
        "", help="A checkout whose code runs as the 'before' variant (with the dead ones)."
    ),
) -> None:
    variants = [Variant("live_only", 0), Variant("dead", dead)]
    if before:
        variants.append(Variant("before", dead, str(Path(before).resolve())))
    runs: dict[str, list[dict[str, Any]]] = {v.label: [] for v in variants}
    for n in range(rounds):
        for variant in variants:
            with console.status(f"round {n + 1} of {rounds}: {variant.label}…"):
                result = run(variant, rate, seconds, warmup)
            runs[variant.label].append(result)
            console.print(f"round {n + 1} {variant.label}: {json.dumps(result)}")
    summary: dict[str, Any] = {"rate_per_s": rate, "seconds": seconds, "warmup_s": warmup}
    for label, results in runs.items():
        summary[label] = {"median": medians(results), "rounds": results}
        measures_table(f"webhook dispatcher, {label}: medians of {rounds}", medians(results))
    write_results(RESULTS, summary)


if __name__ == "__main__":
    run_bench(main)
