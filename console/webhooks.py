"""The webhooks page's data: subscriptions from PostgreSQL (never their secrets); per
subscription, the dispatcher's delivery statistics (``webhook_delivery_stats``, written by
``ledger_sink/webhooks/stats.py``: the last hour's counts, latency quantiles from its
histogram, the last status, the retries pending) and the deliveries it dead-lettered
(``webhooks.dead-letter``).

The subscriptions query is its own rather than ``ledger_sink.webhooks.subscriptions.
list_all`` because that one reads the signing secret, which the console never loads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from psycopg import AsyncConnection
from psycopg.rows import class_row

from dlq.letters import Letter
from schemas.pan import mask_pans
from schemas.webhook_stats import FAILURE_CLASSES, merged, quantile
from schemas.webhook_targets import redact

# The header the dispatcher puts on a delivery it dead-letters (ledger_sink.webhooks).
SUBSCRIPTION_HEADER = "sentinel-subscription-id"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription as the page shows it: no secret, the URL without credentials."""

    subscription_id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


async def subscriptions(conn: AsyncConnection) -> list[Subscription]:
    async with conn.cursor(row_factory=class_row(Subscription)) as cur:
        await cur.execute(
            "SELECT subscription_id::text, url, event_types, active, created_at"
            " FROM webhook_subscriptions ORDER BY created_at, subscription_id"
        )
        found = await cur.fetchall()
    return [
        Subscription(s.subscription_id, shown_url(s.url), s.event_types, s.active, s.created_at)
        for s in found
    ]


def shown_url(url: str) -> str:
    """``url`` without userinfo, query or fragment: any of them may carry a token."""
    redacted = redact(url)
    try:
        parts = urlsplit(redacted)
    except ValueError:
        return "<unparseable URL>"
    hidden = "?…" if parts.query or parts.fragment else ""
    return urlunsplit(parts._replace(query="", fragment="")) + hidden


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """The dead-lettered deliveries of one subscription among the letters read."""

    count: int
    last_at: datetime
    last_error: str


def dead_lettered(letters: Iterable[Letter]) -> dict[str, DeadLettered]:
    """Per subscription id: how many letters, and the newest one's time and error."""
    stats: dict[str, DeadLettered] = {}
    for letter in letters:
        dead = letter.letter
        sub_id = dead.headers.get(SUBSCRIPTION_HEADER)
        if sub_id is None:
            continue
        seen = stats.get(sub_id)
        count = (seen.count if seen else 0) + 1
        if seen is not None and dead.failed_at < seen.last_at:
            stats[sub_id] = replace(seen, count=count)
        else:
            stats[sub_id] = DeadLettered(count, dead.failed_at, mask_pans(dead.error_message))
    return stats


# The hour's figures; the retries pending over a day, far longer than a retry chain
# (backoff capped at 10 min), so one scheduled before the window and taken in it is rare.
_TOTALS = """
SELECT subscription_id::text AS subscription_id,
       coalesce(sum(deliveries) FILTER (WHERE recent), 0)::bigint AS deliveries,
       coalesce(sum(successes) FILTER (WHERE recent), 0)::bigint AS successes,
       coalesce(sum(failed_4xx) FILTER (WHERE recent), 0)::bigint AS failed_4xx,
       coalesce(sum(failed_5xx) FILTER (WHERE recent), 0)::bigint AS failed_5xx,
       coalesce(sum(failed_other) FILTER (WHERE recent), 0)::bigint AS failed_other,
       coalesce(sum(failed_no_response) FILTER (WHERE recent), 0)::bigint AS failed_no_response,
       coalesce(sum(dead_lettered) FILTER (WHERE recent), 0)::bigint AS dead_lettered,
       sum(retries_scheduled - retries_taken)::bigint AS pending,
       (array_agg(last_status ORDER BY last_attempt_at DESC)
            FILTER (WHERE last_attempt_at IS NOT NULL))[1] AS last_status,
       max(last_attempt_at) AS last_attempt_at
FROM (SELECT *, minute >= now() - interval '1 hour' AS recent FROM webhook_delivery_stats
      WHERE minute >= now() - interval '24 hours') AS day
GROUP BY subscription_id
"""
_HISTOGRAMS = """
SELECT subscription_id::text, latency_buckets FROM webhook_delivery_stats
WHERE minute >= now() - interval '1 hour'
"""


@dataclass(frozen=True, slots=True)
class Totals:
    """One subscription's summed rows, as ``_TOTALS`` reads them."""

    subscription_id: str
    deliveries: int
    successes: int
    failed_4xx: int
    failed_5xx: int
    failed_other: int
    failed_no_response: int
    dead_lettered: int
    pending: int
    last_status: int | None
    last_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeliveryFigures:
    """What the page shows of one subscription's deliveries (the last hour unless said)."""

    totals: Totals
    p50_ms: float | None
    p95_ms: float | None

    @property
    def failures(self) -> dict[str, int]:
        return {kind: getattr(self.totals, f"failed_{kind}") for kind in FAILURE_CLASSES}

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def retries_pending(self) -> int:
        """Scheduled and not yet taken back; never below zero (a dispatcher restarted before
        committing a retry it took counts it taken twice)."""
        return max(0, self.totals.pending)


def delivery_figures(
    totals: Iterable[Totals], histograms: Iterable[tuple[str, list[int]]]
) -> dict[str, DeliveryFigures]:
    """Per subscription id: its totals and the p50/p95 of its merged hourly histogram."""
    by_subscription: dict[str, list[list[int]]] = {}
    for sub_id, buckets in histograms:
        by_subscription.setdefault(sub_id, []).append(buckets)
    figures = {}
    for row in totals:
        histogram = merged(by_subscription.get(row.subscription_id, []))
        figures[row.subscription_id] = DeliveryFigures(
            row, quantile(histogram, 0.5), quantile(histogram, 0.95)
        )
    return figures


async def delivery_stats(conn: AsyncConnection) -> dict[str, DeliveryFigures]:
    async with conn.cursor(row_factory=class_row(Totals)) as cur:
        await cur.execute(_TOTALS)
        totals = await cur.fetchall()
    cur2 = await conn.execute(_HISTOGRAMS)
    histograms = [(sub_id, list(buckets)) for sub_id, buckets in await cur2.fetchall()]
    return delivery_figures(totals, histograms)
