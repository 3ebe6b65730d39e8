"""Prometheus metrics of the ledger sink and the webhook dispatcher, and their HTTP endpoint."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import Counter, Gauge, Histogram, start_http_server

SINK_LAG = Gauge(
    "sentinel_sink_lag_records", "decisions not yet consumed, per partition", ["partition"]
)
SINK_BATCH_SIZE = Histogram(
    "sentinel_sink_batch_size",
    "records per consumed batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
SINK_WRITE_SECONDS = Histogram(
    "sentinel_sink_write_seconds",
    "time to write one batch in its database transaction",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
SINK_DECISIONS = Counter(
    "sentinel_sink_decisions_total", "decisions handled by the sink, by result", ["result"]
)
SINK_RETRIES = Counter(
    "sentinel_sink_retries_total", "batch attempts repeated after a transient error"
)
SINK_HEADS_PUBLISHED = Counter(
    "sentinel_sink_heads_published_total", "signed ledger chain heads published"
)
SINK_HEADS_UNPUBLISHED = Counter(
    "sentinel_sink_heads_publish_failures_total",
    "attempts to publish signed heads that Kafka did not acknowledge (heads kept pending)",
)
SINK_DEAD_LETTERED = Counter(
    "sentinel_sink_dead_lettered_total", "records sent to the dead-letter topic", ["code"]
)

WEBHOOK_DELIVERIES = Counter(
    "sentinel_webhook_deliveries_total",
    "webhook delivery attempts by result (delivered, failed, circuit_open)",
    ["result"],
)
WEBHOOK_SECONDS = Histogram(
    "sentinel_webhook_delivery_seconds",
    "duration of one webhook POST",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOK_RETRIES = Counter(
    "sentinel_webhook_retries_total", "deliveries scheduled for another attempt"
)
WEBHOOK_DEAD_LETTERED = Counter(
    "sentinel_webhook_dead_lettered_total", "events dead-lettered by the dispatcher", ["reason"]
)
WEBHOOK_NO_RESPONSE = Counter(
    "sentinel_webhook_no_response_total",
    "webhook attempts that got no HTTP answer, by cause (refused: by the target policy)",
    ["kind"],
)
WEBHOOK_STATS_FLUSHES = Counter(
    "sentinel_webhook_stats_flushes_total",
    "upserts of per-subscription delivery statistics, by result (written, failed)",
    ["result"],
)
WEBHOOK_STATS_DROPPED = Counter(
    "sentinel_webhook_stats_dropped_rows_total",
    "per-subscription statistics rows dropped unwritten (the database was away too long)",
)
WEBHOOK_PENDING = Gauge(
    "sentinel_webhook_pending_records", "records read but not yet finished", ["consumer"]
)


def serve(port: int | None, host: str = "127.0.0.1") -> WSGIServer | None:
    """Expose /metrics on `port` (nothing when None: the default, and in tests)."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host)
    return server
