"""Benchmark: HTTP ingest requests/s and latency, single and batch, against the real stack.

Run: make bench-ingest  (the stack must be up: make up)
``--code PATH`` serves another checkout's API (its PYTHONPATH), e.g. the code before a change,
and ``--out PATH`` writes its results elsewhere: run both alternately and compare medians.
After the wrk runs, ``--count-redis N`` single requests are sent one by one while Redis's
MONITOR lists the commands of the API's own connections: the round trips a request costs.
Starts `sentinel api serve` on a free port with its own topics and a bench API key, then
drives it with wrk (C, one thread, closed loop: each connection sends its next request when
the previous one is answered; bench/wrk_ingest.lua makes every body and key unique).
wrk, Kafka, Redis and the API share the machine's cores. Writes bench/results/ingest.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import redis
import typer
from rich.console import Console
from rich.table import Table

from bench.common import cpu_seconds, rss_mib, run_bench, use_stack_connections, with_children
from deploy.topics import TopicAdmin, apply
from ingest_api.keys import Scope, create_key
from ledger_sink.migrate import upgrade
from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.topics import declared_topics
from tests.support.api import redis_ports

RESULTS = Path(__file__).with_name("results") / "ingest.json"
WRK_SCRIPT = Path(__file__).with_name("wrk_ingest.lua")
PEPPER = "bench-pepper"
console = Console()


def body(account: int) -> dict[str, Any]:
    return {
        "transaction_id": str(uuid.uuid4()),
        "account_id": f"acct-{account % 5000}",
        "card_token": "tok_5d41402abc4b",
        "amount": "125.50",
        "currency": "INR",
        "merchant_id": f"m-{account % 900}",
        "country": "IN",
        "channel": "ECOM",
        "timestamp": datetime.now(UTC).isoformat(),
        "type": "debit",
    }


def require_wrk() -> None:
    """Stop at once, saying how to get it, when wrk is missing: the benchmarks that drive
    the API with it (this one, ``bench_pipeline``'s HTTP ceiling) would otherwise fail
    minutes in."""
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: `make bench` and `make bench-ingest` install it "
            "(apt-get install wrk)"
        )


def drive(url: str, key: str, batch: int, seconds: float, connections: int) -> dict[str, Any]:
    """One closed-loop wrk run (one thread, so the server keeps the other core)."""
    env = {**os.environ, "SENTINEL_BENCH_KEY": key, "SENTINEL_BENCH_BATCH": str(batch)}
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result |= {
        "batch": batch,
        "connections": connections,
        "requests_per_s": result["requests"] / result["duration_s"],
        "transactions_per_s": result["requests"] * batch / result["duration_s"],
    }
    return result


def prepare(prefix: str) -> tuple[str, str]:
    """Migrate the database, create this run's topics and a key without practical limits."""
    dsn = PostgresConnection().dsn.get_secret_value()
    upgrade(dsn)
    apply(TopicAdmin(KafkaConnection()), declared_topics(prefix))

    async def make_key() -> str:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            _key, secret = await create_key(
                conn, "bench", {Scope.INGEST}, PEPPER, 10_000_000, 10_000_000
            )
            return secret

    return dsn, asyncio.run(make_key())


def start_api(prefix: str, workers: int, code: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "SENTINEL_API_PORT": str(port),
        "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
        "SENTINEL_API_API_KEY_PEPPER": PEPPER,
    }
    if code:
        env["PYTHONPATH"] = str(Path(code).resolve())
    sentinel = str(Path(sys.executable).with_name("sentinel"))
    argv = [sentinel, "api", "serve", "--workers", str(workers)]
    proc = subprocess.Popen(argv, env=env)  # noqa: S603 - our own console script
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the API did not become ready")


def main(
    seconds: float = typer.Option(10.0, help="Duration of each measured scenario."),
    concurrency: int = typer.Option(32, help="Concurrent connections (wrk -c)."),
    workers: int = typer.Option(1, help="API worker processes."),
    batch: int = typer.Option(100, help="Items per batch request."),
    code: str = typer.Option("", help="A checkout whose API code is served (default: this)."),
    out: str = typer.Option(str(RESULTS), help="Where the results JSON goes."),
    count_redis: int = typer.Option(200, help="Requests whose Redis commands are counted."),
) -> None:
    use_stack_connections()  # the stack's generated passwords, as every benchmark
    require_wrk()
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    _dsn, key = prepare(prefix)
    proc, url = start_api(prefix, workers, code)
    server = psutil.Process(proc.pid)
    try:
        drive(url, key, 1, 2.0, concurrency)  # warm-up
        runs = []
        for size in (1, batch):
            cpu_before = cpu_seconds(with_children(server))
            result = drive(url, key, size, seconds, concurrency)
            result["server_cpu_s"] = cpu_seconds(with_children(server)) - cpu_before
            result["server_rss_mib"] = rss_mib(with_children(server))
            result["server_cpu_us_per_request"] = result["server_cpu_s"] / result["requests"] * 1e6
            runs.append(result)
        calls = redis_calls(server, url, key, count_redis) if count_redis else {}
    finally:
        proc.terminate()
        proc.wait(15)
        TopicAdmin(KafkaConnection()).delete(s.name for s in declared_topics(prefix))
    report(runs, workers, seconds, calls, code, Path(out))


def redis_calls(server: psutil.Process, url: str, key: str, requests: int) -> dict[str, Any]:
    """Redis commands the API sends per single request: MONITOR, its own connections only."""
    client = redis.Redis.from_url(RedisConnection().url.get_secret_value())
    port = client.connection_pool.connection_kwargs["port"]
    counts: dict[str, int] = {}
    time.sleep(1.0)  # the last wrk requests' own commands, answered after wrk stopped
    with client.monitor() as monitor:  # type: ignore[no-untyped-call]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            for i in range(requests):
                headers = {"Idempotency-Key": str(uuid.uuid4())}
                http.post("/v1/transactions", json=body(i), headers=headers).raise_for_status()
        ours = redis_ports(server, port)
        http_sentinel = "bench-monitor-end"
        client.echo(http_sentinel)
        for command in monitor.listen():
            if http_sentinel in command["command"]:
                break
            if int(command.get("client_port") or 0) in ours:
                name = command["command"].split(" ", 1)[0].upper()
                counts[name] = counts.get(name, 0) + 1
    return {
        "requests": requests,
        "commands": counts,
        "per_request": sum(counts.values()) / requests,
    }


def report(
    runs: list[dict[str, Any]],
    workers: int,
    seconds: float,
    calls: dict[str, Any],
    code: str,
    out: Path,
) -> None:
    table = Table(title=f"HTTP ingest, {workers} API worker(s), {os.cpu_count()} cores")
    for column in (
        "scenario",
        "req/s",
        "tx/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "server CPU s",
        "CPU µs/req",
        "server RSS MiB",
    ):
        table.add_column(column, justify="right")
    for r in runs:
        name = "single" if r["batch"] == 1 else f"batch of {r['batch']}"
        table.add_row(
            name,
            f"{r['requests_per_s']:.0f}",
            f"{r['transactions_per_s']:.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            str(r["non_2xx"]),
            f"{r['server_cpu_s']:.1f}",
            f"{r['server_cpu_us_per_request']:.0f}",
            f"{r['server_rss_mib']:.0f}",
        )
    console.print(table)
    if calls:
        console.print(f"Redis commands per single request: {calls['per_request']:.2f} {calls}")
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "cores": os.cpu_count(),
                "machine": platform.machine(),
                "seconds_per_scenario": seconds,
                "workers": workers,
                "code": code or "this checkout",
                "runs": runs,
                "redis_calls": calls,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {out}")


if __name__ == "__main__":
    run_bench(main)
