"""One signed POST of an event to one subscriber, with a hard deadline; never raises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog

from ledger_sink import metrics
from ledger_sink.webhooks.guard import Refused
from ledger_sink.webhooks.signing import delivery_headers
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.records import WebhookEvent

log = structlog.get_logger("ledger_sink.webhooks.delivery")
# What a delivery that got no HTTP answer records, whatever the cause (refused, reset,
# timed out, unresolvable, refused by the target policy): the retry headers and dead letters
# are read back by admins, and "refused" versus "timed out" per address and port would make
# the dispatcher a port scanner. The cause is counted in a metric and logged at debug.
NO_RESPONSE = "no HTTP response"
# Enough of a response body to keep the connection reusable; the rest is not our business.
_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status: int | None = None
    error: str | None = None
    seconds: float = 0.0  # from the request's start to its answer (or its failure)


async def post(
    client: httpx.AsyncClient,
    subscription: Subscription,
    event: WebhookEvent,
    attempt: int,
    timeout_s: float,
    wall: Callable[[], float] = time.time,
) -> Attempt:
    """POST `event` to `subscription`; 2xx within `timeout_s` is success, anything else not."""
    body = event.payload_json.encode("utf-8")
    headers = delivery_headers(
        subscription.secret, event.event_id, event.event_type, body, wall(), attempt
    )
    started = time.perf_counter()
    try:
        # The overall deadline also bounds a receiver that trickles its response byte by byte,
        # which httpx's per-operation timeouts alone would let run on.
        async with asyncio.timeout(timeout_s):
            status = await _send(client, subscription.url, body, headers)
    except (httpx.HTTPError, TimeoutError) as exc:
        kind = "refused" if isinstance(exc, Refused) else type(exc).__name__
        metrics.WEBHOOK_NO_RESPONSE.labels(kind).inc()
        log.debug("no response", subscription_id=subscription.subscription_id, kind=kind)
        return Attempt(ok=False, error=NO_RESPONSE, seconds=_observed(started))
    except BaseException:
        _observed(started)
        raise
    seconds = _observed(started)
    if 200 <= status < 300:
        return Attempt(ok=True, status=status, seconds=seconds)
    return Attempt(ok=False, status=status, error=f"HTTP {status}", seconds=seconds)


def _observed(started: float) -> float:
    """The seconds since ``started``, observed in the latency histogram."""
    seconds = time.perf_counter() - started
    metrics.WEBHOOK_SECONDS.observe(seconds)
    return seconds


async def _send(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with client.stream("POST", url, content=body, headers=headers) as response:
        read = 0
        async for chunk in response.aiter_bytes():
            read += len(chunk)
            if read >= _MAX_BODY:
                break
        return response.status_code
