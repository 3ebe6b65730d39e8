"""Liveness, readiness (Kafka, Redis, PostgreSQL) and Prometheus metrics (when exposed)."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest_api.deps import RuntimeDep
from ingest_api.runtime import Runtime
from ingest_api.store_capacity import refresh

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Kafka, Redis and PostgreSQL answer", responses={503: {}})
async def readyz(runtime: RuntimeDep) -> Response:
    checks = await asyncio.gather(_redis(runtime), _postgres(runtime))
    status = {
        "kafka": runtime.publisher.healthy() and runtime.waiter.ready(0),
        "redis": checks[0],
        "postgres": checks[1],
    }
    ready = all(status.values())
    answer: dict[str, object] = {"ready": ready, "checks": status}
    problem = runtime.publisher.problem()
    if problem is not None:
        answer["problems"] = {"kafka": problem}
    return Response(
        orjson.dumps(answer),
        200 if ready else 503,
        media_type="application/json",
    )


# Included only when the settings expose it (see ApiSettings.metrics_enabled).
metrics_router = APIRouter(tags=["operations"])


@metrics_router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    # The idempotency store's fill level as of this scrape, not of the last poll (an app
    # built without its runtime has no store to read).
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        await refresh(runtime.redis, runtime.store_alarm)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _redis(runtime: Runtime) -> bool:
    try:
        return bool(await runtime.redis.ping())
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


async def _postgres(runtime: Runtime) -> bool:
    try:
        async with runtime.pool.connection(timeout=1) as conn:
            await conn.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
