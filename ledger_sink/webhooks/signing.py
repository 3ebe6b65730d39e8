"""The signature of a webhook delivery, and the helper receivers verify it with.

Scheme ``v2``: ``X-Sentinel-Signature: v2=<hex HMAC-SHA256(secret, message)>`` where

    message = f"{timestamp}\\n{event_id}\\n{event_type}\\n".encode() + body

so the event id (what receivers dedupe on), the event type and the time are signed with the
body: a captured delivery cannot be replayed under another id or type, nor after the
tolerance. Newlines separate the fields because no HTTP header value can hold one: no
field can be shifted into its neighbour. The header may list several signatures, comma
separated (``v2=…,v2=…``, e.g. while a secret is rotated); a receiver accepts when one of
its scheme matches and ignores schemes it does not know. ``v1`` (timestamp and body only)
is retired: it left the id and type unsigned, and ``verify`` never accepts it.

A receiver: ``verify_headers(secret, request.headers, raw_body, time.time())``, then drop
an ``X-Sentinel-Event-Id`` it has already accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SCHEME = "v2"
EVENT_ID = "X-Sentinel-Event-Id"
EVENT_TYPE = "X-Sentinel-Event-Type"
TIMESTAMP = "X-Sentinel-Timestamp"
SIGNATURE = "X-Sentinel-Signature"
ATTEMPT = "X-Sentinel-Delivery-Attempt"
DEFAULT_TOLERANCE_S = 300


def signed_message(timestamp: str, event_id: str, event_type: str, body: bytes) -> bytes:
    """What v2 signs; ValueError for a field no sender produces (a line break in it)."""
    fields = (timestamp, event_id, event_type)
    if any("\n" in f or "\r" in f for f in fields):
        raise ValueError("a signed header field holds a line break")
    return "\n".join(fields).encode("utf-8") + b"\n" + body


def signature(secret: str, timestamp: str, event_id: str, event_type: str, body: bytes) -> str:
    """``v2=<hex HMAC-SHA256(secret, signed_message(...))>``."""
    message = signed_message(timestamp, event_id, event_type, body)
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: str,
    timestamp: str,
    event_id: str,
    event_type: str,
    body: bytes,
    header: str,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when `header` holds a v2 signature of these fields under `secret`, and
    `timestamp` is within `tolerance_s` of `now` (either side: clocks drift)."""
    try:
        sent = int(timestamp)
        expected = signature(secret, timestamp, event_id, event_type, body)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    offered = [part.strip() for part in header.split(",")]
    # Every candidate compared, in constant time each: which one matched is not timed.
    matches = [hmac.compare_digest(expected, part) for part in offered if part.startswith("v2=")]
    return any(matches)


def verify_headers(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> bool:
    """`verify` with the fields read from a request's headers (any case-insensitive
    mapping: Starlette's, httpx's, http.server's); False when one is missing."""
    fields = [headers.get(name) for name in (TIMESTAMP, EVENT_ID, EVENT_TYPE, SIGNATURE)]
    if any(value is None for value in fields):
        return False
    timestamp, event_id, event_type, header = (str(value) for value in fields)
    return verify(secret, timestamp, event_id, event_type, body, header, now, tolerance_s)


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
        SIGNATURE: signature(secret, timestamp, event_id, event_type, body),
        ATTEMPT: str(attempt),
    }
