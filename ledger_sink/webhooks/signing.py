"""The signature of a webhook delivery: HMAC-SHA256 over "<timestamp>.<body>", hex-encoded.

A receiver recomputes it with the subscription's secret, compares in constant time, rejects
an old timestamp (replay), and drops a repeated ``X-Sentinel-Event-Id`` (redelivery).
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"
EVENT_ID = "X-Sentinel-Event-Id"
EVENT_TYPE = "X-Sentinel-Event-Type"
TIMESTAMP = "X-Sentinel-Timestamp"
SIGNATURE = "X-Sentinel-Signature"
ATTEMPT = "X-Sentinel-Delivery-Attempt"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when `header` signs `body` at `timestamp` under `secret`, within `tolerance_s`."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def delivery_headers(
    secret: str, event_id: str, event_type: str, body: bytes, now: float, attempt: int
) -> dict[str, str]:
    """Every header of one delivery attempt; each attempt is signed at its own time."""
    timestamp = str(int(now))
    return {
        "Content-Type": "application/json",
        "User-Agent": "SentinelStream-Webhooks/1",
        EVENT_ID: event_id,
        EVENT_TYPE: event_type,
        TIMESTAMP: timestamp,
        SIGNATURE: signature(secret, timestamp, body),
        ATTEMPT: str(attempt),
    }
