"""The webhooks page's data: subscriptions from PostgreSQL (never their secrets) and, per
subscription, the deliveries the dispatcher dead-lettered (``webhooks.dead-letter``).

The dispatcher records nothing else per subscription: PostgreSQL holds the subscriptions
only, and its delivery outcomes, retries and latencies are Prometheus metrics labelled by
result, not by subscriber (``ledger_sink/metrics.py``). So this page shows what exists.
The query is its own rather than ``ledger_sink.webhooks.subscriptions.list_all`` because
that one reads the signing secret, which the console never loads.
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
