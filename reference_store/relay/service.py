"""`sentinel rules relay`'s loop: a pass at start, then one per committed version (LISTEN
on the versions' channel) and at least one per sweep interval, until asked to stop.

A notification only wakes the relay; the pass reads what is pending from the tables, so a
notification lost while the relay reconnected costs at most one sweep interval. PostgreSQL
or Kafka away: the pass fails, nothing is noted published, and the relay retries with
backoff (tenacity) on fresh connections.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import psycopg
import structlog
from prometheus_client import start_http_server
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from reference_store.relay import metrics, store
from reference_store.relay.relay import KafkaSend, Send, publish_pending
from reference_store.relay.settings import RelaySettings
from schemas.kafka_edge import DeliveryFailed

log = structlog.get_logger("reference_store.relay")
# What a pass may fail with and the relay outlive: the database or the broker away.
TRANSIENT = (psycopg.OperationalError, DeliveryFailed)


async def run(settings: RelaySettings, stopping: asyncio.Event) -> None:
    """Relay committed rule versions to the rules topic until ``stopping`` is set."""
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    send = KafkaSend(settings.kafka, settings.produce_timeout_s)
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT),
        wait=wait_exponential_jitter(settings.retry_initial_s, settings.retry_max_s),
        stop=lambda _state: stopping.is_set(),
        before_sleep=_failed,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await _serve(settings, send, stopping)
    except TRANSIENT:
        if not stopping.is_set():
            raise
    finally:
        send.close()
    log.info("stopped")


def _failed(state: RetryCallState) -> None:
    metrics.PASSES.labels("failed").inc()
    error = state.outcome.exception() if state.outcome else None
    log.warning("relay pass failed; retrying", error=str(error), attempt=state.attempt_number)


async def _serve(settings: RelaySettings, send: Send, stopping: asyncio.Event) -> None:
    dsn = settings.postgres.dsn.get_secret_value()
    async with (
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as listening,
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as working,
    ):
        # LISTEN before the first pass: a version committed in between wakes the next one.
        await listening.execute(f"LISTEN {store.CHANNEL}")
        log.info("relaying", topic=getattr(send, "topic", None))
        while not stopping.is_set():
            await pass_once(working, send)
            await _wake(listening, settings.sweep_interval_s, stopping)


async def pass_once(conn: psycopg.AsyncConnection, send: Send) -> None:
    """One pass with its metrics and log line."""
    found = await publish_pending(conn, send, seen=lambda p: metrics.waiting(p, _now()))
    metrics.done(found, _now())
    if found.publish:
        published = [f"{v.rule_id}@{v.version}" for v in found.publish]
        log.info("published", versions=published, superseded=len(found.superseded))


def _now() -> datetime:
    return datetime.now(UTC)


async def _wake(conn: psycopg.AsyncConnection, interval_s: float, stopping: asyncio.Event) -> None:
    """Return on a notification, after ``interval_s``, or soon after ``stopping`` is set."""
    deadline = time.monotonic() + interval_s
    while not stopping.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        # Short slices so that a stop request is seen within a second.
        async for _note in conn.notifies(timeout=min(left, 1.0), stop_after=1):
            return
