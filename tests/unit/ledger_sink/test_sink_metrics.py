"""The Prometheus endpoint: off by default, and when on it names every figure the issue asks
for (sink lag, batch size, write latency, deliveries by result, retries, dead-lettered)."""

from __future__ import annotations

import socket

import httpx

from ledger_sink import metrics


def test_no_port_serves_nothing() -> None:
    assert metrics.serve(None) is None


def test_the_endpoint_exposes_the_sink_and_webhook_metrics() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    metrics.SINK_LAG.labels("0").set(3)
    metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
    server = metrics.serve(port)
    assert server is not None
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    for name in (
        'sentinel_sink_lag_records{partition="0"} 3.0',
        "sentinel_sink_batch_size_bucket",
        "sentinel_sink_write_seconds_bucket",
        'sentinel_webhook_deliveries_total{result="delivered"}',
        "sentinel_webhook_retries_total",
        "sentinel_sink_dead_lettered_total",
        "sentinel_webhook_dead_lettered_total",
    ):
        assert name in body
