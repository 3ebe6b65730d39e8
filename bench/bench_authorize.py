"""Benchmark: synchronous authorize (`POST /v1/authorize`) under the live demo's load.

Run: make bench-authorize   (or .venv/bin/python -m bench.bench_authorize [--before PATH])

On its own topic prefix and database (both removed afterwards): two agent workers (the
tests' tiny model, the seed rules and lists by `sentinel rules load`, as `make up` does)
and, per measurement, one ingest API process. No sink: authorize waits on its reply
partition of decision-replies, not the ledger. Each measurement offers --rate tx/s of
simulated transactions straight onto the transactions topic (pre-encoded, paced in 5 ms
slices, as bench_pipeline does) and --authorize-rate calls a second to /v1/authorize with
--deadline-ms, on an open loop (bench/http_driver.py, its own process), for --warmup plus
--seconds.

Reported per measurement: authorize's client latency (request sent -> answer read)
p50/p95/p99/max, the share answered by the fallback (the deadline hit), and where it went:
the handler's own elapsed_ms (from its start to the answer built, before the idempotency
record and the response), the pipeline's part of those calls (the decision's ingested_at,
taken as the handler starts, -> the decision's record timestamp: the API's claims and
publish, then the agent), and per call the rest of the handler's time (the decision's
record timestamp -> the answer built: the agent's publish, the fetch, the wake-up); the CPU
of the API process (and of the agent workers) over the measured window and, before any
traffic, the API's own at rest (--idle-seconds).

--before PATH adds a variant whose API runs the code of another checkout (its PYTHONPATH,
e.g. `git worktree add /tmp/authz-before main`); the agents run this checkout's code in
both. Variants alternate, --rounds times each, one API started and stopped per
measurement, and the medians of the rounds are reported in bench/results/authorize.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from confluent_kafka import Producer

from bench import pipeline_stats as stats
from bench.bench_pipeline import (
    PEPPER,
    Offsets,
    Service,
    Usage,
    decisions_in_window,
    load_seed_rules,
    paced,
    services_env,
    simulated,
    start_agents,
    start_api,
    take,
    topics,
    wait_until,
)
from bench.bench_sink import database
from bench.bench_webhooks import medians
from bench.common import console, measures_table, run_bench, write_results
from fraudsim.simulate.produce import kafka_producer
from ingest_api.keys import Scope, create_key
from schemas.connections import KafkaConnection
from schemas.topics import DECISIONS, TRANSACTIONS
from tests.support.models import train_tiny_model

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "authorize.json"


@dataclass(frozen=True)
class Variant:
    label: str
    pythonpath: str  # the checkout whose code the API runs


@dataclass(frozen=True)
class Load:
    rate: float
    authorize_rate: float
    deadline_ms: int
    warmup: float
    seconds: float
    idle_seconds: float


@dataclass
class Bench:
    prefix: str
    env: dict[str, str]
    key: str
    work: Path
    agents: list[Service]
    producer: Producer
    values: Iterator[tuple[bytes, bytes]]


def measure(bench: Bench, variant: Variant, load: Load, n: int) -> dict[str, Any]:
    """One API process of ``variant`` under ``load``; its figures."""
    env = {**bench.env, "PYTHONPATH": variant.pythonpath}
    api, url = start_api(env, bench.work, f"api-{variant.label}-{n}")
    try:
        idle = Usage.of([api], {})
        idle.start()
        time.sleep(load.idle_seconds)  # what the API costs with nobody calling
        idle_cpu = idle.stop()[api.name]["cpu_percent"]
        out = bench.work / f"authorize-{variant.label}-{n}.json"
        return {**drive(bench, api, url, load, out), "api_idle_cpu_percent": idle_cpu}
    finally:
        api.stop()


def drive(bench: Bench, api: Service, url: str, load: Load, out: Path) -> dict[str, Any]:
    records = take(bench.values, int(load.rate * (load.warmup + load.seconds)))
    driver = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "bench.http_driver", "--url", url, "--key", bench.key,
         "--route", "authorize", "--deadline-ms", str(load.deadline_ms),
         "--rate", f"{load.authorize_rate:g}", "--warmup", f"{load.warmup:g}",
         "--seconds", f"{load.seconds:g}", "--out", str(out)],
        cwd=ROOT,
    )  # fmt: skip
    time.sleep(1.0)  # its imports, so both sources start together
    topic = f"{bench.prefix}{TRANSACTIONS.name}"
    warm = records[: int(load.rate * load.warmup)]
    paced(bench.producer, topic, warm, load.rate)
    usage = Usage.of([api, *bench.agents], {})
    start_ms = int(time.time() * 1000)
    usage.start()
    paced(bench.producer, topic, records[len(warm) :], load.rate)
    resources = usage.stop()
    end_ms = int(time.time() * 1000)
    bench.producer.flush(30)
    driver.wait(load.warmup + load.seconds + 60)
    http = json.loads(out.read_text())
    return figures(bench.prefix, http, resources[api.name], resources, start_ms, end_ms)


def figures(
    prefix: str,
    http: dict[str, Any],
    api: dict[str, Any],
    resources: dict[str, Any],
    start_ms: int,
    end_ms: int,
) -> dict[str, Any]:
    latencies = sorted(http["latencies_ms"])
    answered = len(latencies)
    # The pipeline's part of the same calls (their decisions' ingested_at -> record
    # timestamp), read a little past the window, where the last calls' decisions land; and
    # the rest of the handler's time, from the decision's record timestamp to the answer.
    server = dict(zip(http["transaction_ids"], http["server_elapsed_ms"], strict=True))
    _count, samples = decisions_in_window(prefix, start_ms - 10_000, end_ms + 5_000, 1)
    mine = [s for s in samples if s.transaction_id in server]
    pipeline = sorted(s.decided_ms - s.ingested_ms for s in mine)
    delivery = sorted(server[s.transaction_id] - (s.decided_ms - s.ingested_ms) for s in mine)
    handler = sorted(server.values())
    return {
        "calls": http["sent"],
        "answered_200": answered,
        "statuses": json.dumps(http["statuses"], sort_keys=True),
        "late_sends": http["late"],
        "p50_ms": _q(latencies, 0.5),
        "p95_ms": _q(latencies, 0.95),
        "p99_ms": _q(latencies, 0.99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "fallback_share": round(http["fallbacks"] / answered, 4) if answered else None,
        "handler_p50_ms": _q(handler, 0.5),
        "handler_p99_ms": _q(handler, 0.99),
        "pipeline_p50_ms": _q(pipeline, 0.5),
        "pipeline_p99_ms": _q(pipeline, 0.99),
        "decision_to_answer_p50_ms": _q(delivery, 0.5),
        "decision_to_answer_p99_ms": _q(delivery, 0.99),
        "api_cpu_percent": api["cpu_percent"],
        "agents_cpu_percent": round(
            sum(v["cpu_percent"] for k, v in resources.items() if k.startswith("agent-")), 1
        ),
        "machine_cpu_percent": resources["machine"]["cpu_percent"],
    }


def _q(ordered: list[float], q: float) -> float | None:
    return round(stats.percentile(ordered, q), 1) if ordered else None


async def credentials(dsn: str) -> str:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        _key, secret = await create_key(
            conn, "bench", {Scope.INGEST}, PEPPER, 10_000_000, 10_000_000
        )
        return secret


def warm_agents(bench: Bench) -> None:
    """First decisions out of both workers: group joined, model and rules loaded."""
    paced(bench.producer, f"{bench.prefix}{TRANSACTIONS.name}", take(bench.values, 500), 250)
    bench.producer.flush(30)
    offsets = Offsets(bench.prefix)
    try:
        wait_until(
            "the first 500 decisions",
            lambda: offsets.total(DECISIONS.name) >= 500,
            bench.agents,
            180,
        )
    finally:
        offsets.close()


def main(
    rate: float = typer.Option(200.0, help="Background tx/s produced onto the topic."),
    authorize_rate: float = typer.Option(40.0, help="/v1/authorize calls a second."),
    deadline_ms: int = typer.Option(150, help="The calls' deadline_ms."),
    seconds: float = typer.Option(30.0, help="Measured window of each measurement."),
    warmup: float = typer.Option(5.0, help="Traffic before each measured window."),
    idle_seconds: float = typer.Option(5.0, help="The API's CPU measured first, no traffic."),
    rounds: int = typer.Option(3, help="Rounds; each measures every variant once, alternated."),
    before: str = typer.Option("", help="A checkout whose API code runs as 'before'."),
    settings: list[str] = typer.Option(  # noqa: B008 - typer's way to declare the option
        [], "--env", help="More settings of every process, NAME=VALUE (repeatable)."
    ),
    out: Annotated[Path, typer.Option(help="The JSON result.")] = RESULTS,
) -> None:
    load = Load(rate, authorize_rate, deadline_ms, warmup, seconds, idle_seconds)
    variants = [Variant("after", str(ROOT))]
    if before:
        variants.insert(0, Variant("before", str(Path(before).resolve())))
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    work = Path(tempfile.mkdtemp(prefix="bench-authorize-"))
    total = int(rate * (warmup + seconds) * rounds * len(variants)) + 1_000
    console.print(f"run {prefix}, logs in {work}")
    runs: dict[str, list[dict[str, Any]]] = {v.label: [] for v in variants}
    with ExitStack() as stack:
        dsn = stack.enter_context(database())
        stack.enter_context(topics(prefix))
        train_tiny_model(work / "models")
        env = {
            **services_env(prefix, dsn, work),
            "PYTHONPATH": str(ROOT),
            **dict(item.split("=", 1) for item in settings),
        }
        load_seed_rules(env)
        agents = start_agents(env, work)
        for agent in agents:
            stack.callback(agent.stop)
        bench = Bench(
            prefix,
            env,
            asyncio.run(credentials(dsn)),
            work,
            agents,
            kafka_producer(KafkaConnection()),
            # A seed of its own: the same transaction ids with other timestamps (another
            # run's size) would be refused as reused ids by the agents' registry (15 min).
            simulated(total, seed=secrets.randbelow(2**31)),
        )
        warm_agents(bench)
        for n in range(rounds):
            for variant in variants:
                with console.status(f"round {n + 1} of {rounds}: {variant.label}…"):
                    result = measure(bench, variant, load, n)
                runs[variant.label].append(result)
                console.print(f"round {n + 1} {variant.label}: {json.dumps(result)}")
    summary: dict[str, Any] = {
        "settings": {
            **load.__dict__,
            "rounds": rounds,
            "agent_workers": len(agents),
            "env": settings,
        },
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    for label, results in runs.items():
        summary[label] = {"median": medians(results), "rounds": results}
        measures_table(f"/v1/authorize, {label}: medians of {rounds}", medians(results))
    write_results(out, summary)
    shutil.rmtree(work, ignore_errors=True)  # kept when the run fails: the services' logs


if __name__ == "__main__":
    run_bench(main)
