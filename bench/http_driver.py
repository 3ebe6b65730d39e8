"""The HTTP share of bench/bench_pipeline.py's and bench/bench_authorize.py's traffic, in a
process of its own.

Posts single transactions to the ingest API on an open loop (request n is due at n / rate,
whether or not earlier ones were answered, up to --concurrency in flight) for --warmup plus
--seconds, then writes JSON: counts, statuses and the latency (request sent -> response
read) of each successful request due in the measured window. --route authorize posts to
/v1/authorize (with --deadline-ms) and also counts the answers marked as the fallback; each
measured request's transaction id is listed (and, for authorize, the elapsed_ms it
answered). Its own process so its CPU does not steal the Kafka driver's GIL.

Run by the benchmarks: python -m bench.http_driver --url ... --key ... --rate ... --out ...
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvloop

# Accounts of their own, so the benchmark can tell HTTP decisions from Kafka ones.
ACCOUNT_PREFIX = "bench-http-"


def body(n: int) -> dict[str, Any]:
    return {
        "transaction_id": str(uuid.uuid4()),
        "account_id": f"{ACCOUNT_PREFIX}{n % 2000}",
        "card_token": "tok_5d41402abc4b",
        "amount": f"{10 + n % 400}.50",
        "currency": "INR",
        "merchant_id": f"m-{n % 900}",
        "country": "IN",
        "channel": "ECOM",
        "timestamp": datetime.now(UTC).isoformat(),
        "type": "debit",
    }


# route -> (path, the success status whose latency is measured)
ROUTES = {"transactions": ("/v1/transactions", 202), "authorize": ("/v1/authorize", 200)}


async def drive(
    url: str,
    key: str,
    rate: float,
    warmup: float,
    seconds: float,
    concurrency: int,
    route: str = "transactions",
    deadline_ms: int | None = None,
) -> dict[str, Any]:
    path, ok = ROUTES[route]
    params = {} if deadline_ms is None else {"deadline_ms": deadline_ms}
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    measured_ids: list[str] = []
    server_ms: list[float] = []  # authorize's own elapsed_ms, in the order of measured_ids
    fallbacks = 0
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

        async def post(n: int, measured: bool) -> None:
            nonlocal fallbacks
            payload = body(n)
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
            try:
                began = time.perf_counter()
                answer = await client.post(path, json=payload, headers=headers, params=params)
                elapsed_ms = (time.perf_counter() - began) * 1000
                statuses[str(answer.status_code)] += 1
                if measured and answer.status_code == ok:
                    latencies.append(elapsed_ms)
                    measured_ids.append(payload["transaction_id"])
                    if route == "authorize":
                        answered = answer.json()
                        fallbacks += answered["fallback"] is True
                        server_ms.append(answered["elapsed_ms"])
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            finally:
                gate.release()

        tasks = []
        total = int(rate * (warmup + seconds))
        start = time.perf_counter()
        late = 0
        for n in range(total):
            due = start + n / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            if gate.locked():
                late += 1  # every connection is busy: this one goes out behind schedule
            await gate.acquire()
            tasks.append(asyncio.create_task(post(n, n / rate >= warmup)))
        await asyncio.gather(*tasks)
    return {
        "offered_per_s": rate,
        "sent": total,
        "late": late,
        "statuses": dict(statuses),
        "latencies_ms": latencies,
        "transaction_ids": measured_ids,
        "server_elapsed_ms": server_ms,
        "fallbacks": fallbacks,
    }


def main(
    out: Annotated[Path, typer.Option(help="Where the JSON result goes.")],
    url: str = typer.Option(...),
    key: str = typer.Option(...),
    rate: float = typer.Option(..., min=0.1),
    warmup: float = typer.Option(5.0),
    seconds: float = typer.Option(20.0),
    concurrency: int = typer.Option(32),
    route: str = typer.Option("transactions", help="transactions or authorize"),
    deadline_ms: int | None = typer.Option(None, help="authorize's deadline_ms."),
) -> None:
    if route not in ROUTES:
        raise typer.BadParameter(f"route must be one of {sorted(ROUTES)}")
    result = uvloop.run(drive(url, key, rate, warmup, seconds, concurrency, route, deadline_ms))
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    typer.run(main)
