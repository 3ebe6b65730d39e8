"""Benchmark: what dead webhook subscribers cost the dispatcher, and whether they slow a
live one.

Run: .venv/bin/python bench/bench_webhooks.py --label after  (the stack must be up)
Writes bench/results/webhooks.json, one entry per label (``before``/``after`` a change).

One `sentinel webhooks run` process (default settings but for the loopback allow-list)
serves eleven subscriptions to every event type: ten dead ones, whose hosts cannot be
reached, and one live local receiver. Five dead ones are black holes (a listening socket
nobody accepts on: once its queue is full, connections hang until the request deadline, as
behind a firewall that drops), five refuse connections (a closed port). Events are produced
at --rate per second for --seconds; each carries the time it was produced, so the live
receiver measures produce-to-delivery latency. Reported: the dispatcher's CPU (user+system,
in cores) over the produce window, its peak memory, and the live receiver's latency
percentiles and the share of events it got in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import typer
from psycopg import AsyncConnection

from bench.bench_sink import database, service, topics
from bench.common import console, measures_table, producer, write_results
from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import signing, subscriptions
from schemas.codec import encode_webhook_event
from tests.support.receiver import LOCAL_ENV, LOCAL_POLICY

SECRET = "whsec_bench_0123456789"  # noqa: S105 - signs bench traffic only
RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"


class Live:
    """The live subscriber: checks each signature, notes when each event arrived."""

    def __init__(self) -> None:
        self.latencies_s: dict[str, float] = {}
        self.sent_at: dict[str, float] = {}
        self.bad = 0
        self.lock = threading.Lock()
        live = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.time()
                ok = signing.verify_headers(SECRET, self.headers, body, arrived)
                with live.lock:
                    if ok:
                        sent = float(json.loads(body)["produced_at"])
                        event_id = self.headers.get(signing.EVENT_ID, "")
                        live.latencies_s.setdefault(event_id, arrived - sent)
                        live.sent_at.setdefault(event_id, sent)
                    else:
                        live.bad += 1
                self.send_response(204 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def received(self) -> int:
        with self.lock:
            return len(self.latencies_s)


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


def drive(topic: str, rate: int, seconds: float) -> int:
    """Produce `rate` events/s for `seconds`, each stamped with when it was produced."""
    template = webhook_event(decision(transaction("acct-bench", "12.00")))
    out = producer(linger_ms=2)
    sent, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            payload = json.dumps({"produced_at": time.time(), "n": sent})
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


def run(rate: int, seconds: float, dead: int) -> dict[str, Any]:
    live = Live()
    with topics() as prefix, database() as dsn, dead_hosts(dead) as urls:
        subscribe_all(dsn, [*urls, live.url])
        env = {
            **os.environ,
            **LOCAL_ENV,
            "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
            "SENTINEL_POSTGRES_DSN": dsn,
        }
        with service(["webhooks", "run"], env):
            topic = f"{prefix}webhooks"
            drive(topic, 5, 1.0)  # warm up: the consumer group has joined once these arrive
            deadline = time.monotonic() + 60
            while live.received() < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
            proc = dispatcher_process(prefix)
            before = proc.cpu_times()
            started = time.perf_counter()
            sent = drive(topic, rate, seconds)
            window = time.perf_counter() - started
            after = proc.cpu_times()
            rss_mb = proc.memory_info().rss / 2**20
            drain = time.monotonic() + 20
            while live.received() < sent + 5 and time.monotonic() < drain:
                time.sleep(0.1)
    used = (after.user + after.system) - (before.user + before.system)
    latencies = list(live.latencies_s.values())[5:]
    windows = by_window(live, 5.0)
    return {
        "dead_subscribers": dead,
        "live_subscribers": 1,
        "rate_per_s": rate,
        "seconds": round(window, 1),
        "events": sent,
        "dispatcher_cpu_cores": round(used / window, 3),
        "dispatcher_rss_mb": round(rss_mb, 1),
        "live_delivered": len(latencies),
        "live_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "live_p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "live_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "live_p99_ms_per_5s_of_production": windows,
        "bad_signatures": live.bad,
    }


def by_window(live: Live, width_s: float) -> list[float]:
    """The live receiver's p99 for the events produced in each `width_s` window: whether a
    slow tail is start-up or steady state."""
    if not live.sent_at:
        return []
    start = min(live.sent_at.values())
    buckets: dict[int, list[float]] = {}
    for event_id, sent in live.sent_at.items():
        buckets.setdefault(int((sent - start) // width_s), []).append(live.latencies_s[event_id])
    return [round(percentile(buckets[k], 0.99) * 1000, 1) for k in sorted(buckets)]


def main(
    label: str = typer.Option("after", help="The entry of bench/results/webhooks.json."),
    rate: int = typer.Option(200, help="Events produced per second."),
    seconds: float = typer.Option(45.0, help="How long events are produced."),
    dead: int = typer.Option(10, help="Dead subscribers beside the live one."),
) -> None:
    result = run(rate, seconds, dead)
    measures_table(f"webhook dispatcher, {dead} dead subscribers + 1 live ({label})", result)
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    runs = {k: v for k, v in previous.items() if isinstance(v, dict)}
    write_results(RESULTS, runs | {label: result})
    console.print(f"written to {RESULTS}")


if __name__ == "__main__":
    typer.run(main)
