"""Prometheus metrics of the API and the ASGI middleware that records requests."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "sentinel_api_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "sentinel_api_request_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
)
PRODUCE_ERRORS = Counter("sentinel_api_produce_errors_total", "Kafka publications that failed")
IDEMPOTENT_REPLAYS = Counter(
    "sentinel_api_idempotent_replays_total", "requests answered from a stored response"
)
RATE_LIMITED = Counter("sentinel_api_rate_limited_total", "requests refused by a rate limit")
AUTHORIZE_FALLBACKS = Counter(
    "sentinel_api_authorize_fallbacks_total", "authorize calls answered by the fallback outcome"
)


class MetricsMiddleware:
    """Counts and times every request by its route template (not the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            REQUESTS.labels(method, route, str(status[0])).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - start)
            if status[0] == 429:
                RATE_LIMITED.inc()
