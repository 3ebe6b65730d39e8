"""The review queue's data and actions: open cases, a case's evidence, claims, resolutions.

A case is a REVIEW decision with no row in ``review_resolutions``. An analyst claims it (a
Redis key with a time to live: one holder at a time, released on resolution or by hand),
then resolves it: the console publishes a ``ReviewResolution`` to the ``reviews`` topic and
waits a moment for the reviews sink (``ledger_sink/reviews.py``) to apply it. The sink, not
the console, is the authority: its unique constraint makes one resolution per case take
effect whoever sends what. The resolution id comes from the case's form, so submitting the
same form twice is one resolution.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.enums import Outcome
from schemas.records import ReviewResolution

QUEUE = """
SELECT d.transaction_id, d.account_id, d.risk_score, d.decided_at, t.amount, t.currency,
       t.type, t.channel, t.country, t.merchant_id
FROM decisions d JOIN transactions t USING (transaction_id)
WHERE d.outcome = 'REVIEW'
  AND NOT EXISTS (SELECT FROM review_resolutions r WHERE r.transaction_id = d.transaction_id)
ORDER BY d.decided_at, d.transaction_id
LIMIT %s
"""

OPEN_COUNT = """
SELECT count(*) FROM decisions d
WHERE d.outcome = 'REVIEW'
  AND NOT EXISTS (SELECT FROM review_resolutions r WHERE r.transaction_id = d.transaction_id)
"""

RESOLUTION = """
SELECT resolution_id::text, verdict::text, confirmed_fraud, note, analyst, resolved_at
FROM review_resolutions WHERE transaction_id = %s
"""

RULE_NAMES = "SELECT rule_id::text, name FROM rules WHERE rule_id::text = ANY(%s::text[])"

# Deletes the claim only if `username` still holds it (a claim that expired and was taken
# by someone else is theirs).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Ageing(StrEnum):
    """Where a case stands against the review SLA."""

    WITHIN = "within"
    NEAR = "near"  # past three quarters of it
    BREACHED = "breached"


def ageing(decided_at: datetime, now: datetime, sla: timedelta) -> Ageing:
    age = now - decided_at
    if age >= sla:
        return Ageing.BREACHED
    return Ageing.NEAR if age >= sla * 0.75 else Ageing.WITHIN


def age_text(decided_at: datetime, now: datetime) -> str:
    """A case's age the way a queue shows it: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    seconds = max(0, int((now - decided_at).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@dataclass(frozen=True, slots=True)
class Bar:
    """One reason code as the case page draws it: a bar from the middle, left for a
    contribution towards genuine, right for one towards fraud."""

    feature: str
    value: float | None  # None: the feature had no value (stored as null, NaN in the model)
    contribution: float
    x: float
    width: float


def contribution_bars(reasons: list[dict[str, Any]], half_width: float = 150.0) -> list[Bar]:
    """The reason codes scaled so the largest contribution spans `half_width` units."""
    largest = max((abs(float(r["contribution"])) for r in reasons), default=0.0) or 1.0
    bars = []
    for reason in reasons:
        contribution = float(reason["contribution"])
        width = abs(contribution) / largest * half_width
        x = half_width if contribution >= 0 else half_width - width
        value = None if reason.get("value") is None else float(reason["value"])
        bars.append(Bar(str(reason["feature"]), value, contribution, x, width))
    return bars


class Verdict(StrEnum):
    """What the case form offers: approve (the money moves), decline, decline as fraud."""

    APPROVE = "approve"
    DECLINE = "decline"
    FRAUD = "fraud"


def resolution_of(
    case: dict[str, Any],
    verdict: Verdict,
    note: str,
    analyst: str,
    resolution_id: str,
    now: datetime,
) -> ReviewResolution:
    """The resolution an analyst's form submits for `case` (a decision row)."""
    return ReviewResolution(
        resolution_id=str(uuid.UUID(resolution_id)),
        transaction_id=case["transaction_id"],
        account_id=case["account_id"],
        decision_id=case["decision_id"],
        verdict=Outcome.APPROVE if verdict is Verdict.APPROVE else Outcome.DECLINE,
        confirmed_fraud=verdict is Verdict.FRAUD,
        note=note,
        analyst=analyst,
        resolved_at=now,
    )


async def open_cases(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUEUE, [limit])
        return await cur.fetchall()


async def open_count(conn: AsyncConnection) -> int:
    row = await (await conn.execute(OPEN_COUNT)).fetchone()
    return int(row[0]) if row else 0


async def resolution(conn: AsyncConnection, transaction_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(RESOLUTION, [transaction_id])
        return await cur.fetchone()


async def rule_names(conn: AsyncConnection, rule_ids: list[str]) -> dict[str, str]:
    rows = await (await conn.execute(RULE_NAMES, [rule_ids])).fetchall()
    return {rule_id: name for rule_id, name in rows}


async def wait_for_resolution(
    pool_connection: Any, transaction_id: str, timeout_s: float, every_s: float = 0.1
) -> dict[str, Any] | None:
    """The case's stored resolution once the reviews sink has applied one, or None after
    `timeout_s` (the sink may be behind or down: the resolution is on the topic anyway)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with pool_connection(timeout=2) as conn:
            found = await resolution(conn, transaction_id)
        if found is not None or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(every_s)


class Claims:
    """Who is working on which case: one Redis key per claimed case, with a time to live."""

    def __init__(self, client: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self._client, self._prefix, self.ttl_s = client, prefix, ttl_s
        # redis-py's registered script: EVALSHA, the script sent again only if Redis lost it.
        self._release = client.register_script(_RELEASE)

    def _key(self, transaction_id: str) -> str:
        return f"{self._prefix}:review-claim:{transaction_id}"

    async def claim(self, transaction_id: str, username: str) -> str:
        """Claim the case for `username` (renewing their own claim); the holder after."""
        key = self._key(transaction_id)
        if await self._client.set(key, username, nx=True, ex=self.ttl_s):
            return username
        holder = await self.holder(transaction_id)
        if holder == username:
            await self._client.expire(key, self.ttl_s)
        return holder or await self.claim(transaction_id, username)

    async def holder(self, transaction_id: str) -> str | None:
        value = await self._client.get(self._key(transaction_id))
        return None if value is None else _text(value)

    async def holders(self, transaction_ids: list[str]) -> dict[str, str]:
        if not transaction_ids:
            return {}
        values = await self._client.mget([self._key(t) for t in transaction_ids])
        return {t: _text(v) for t, v in zip(transaction_ids, values, strict=True) if v}

    async def release(self, transaction_id: str, username: str) -> bool:
        released = await self._release(keys=[self._key(transaction_id)], args=[username])
        return bool(released)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def money(amount: Decimal | str, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency.strip()}"
