"""What the Overview lists beside its figures, read from the ledger: decisions per minute
(the chart), the rules that fired most, and the latest DECLINEs with their reasons.

Every query finds its decisions through ``analytics.fact_decisions``' (date_key, time_key)
index (the transaction's event minute, as the figures do), then joins the ledger's own rows
by primary key: ``decisions`` for the reasons, ``decision_rule_hits`` for the rules fired,
``rules`` for their names. Nothing here scans the hot ``decisions`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from console.overview import Window

_PER_MINUTE = """
SELECT date_key, time_key, count(*)::int AS decisions,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99_ms
FROM analytics.fact_decisions
WHERE (date_key, time_key) >= (%(start_date)s, %(start_time)s)
  AND (date_key, time_key) < (%(end_date)s, %(end_time)s)
GROUP BY date_key, time_key
"""

# Active hits only: a shadow rule changed no outcome. The rule's current name, or its id
# when this database never saw it (hits carry the agents' id, without a foreign key).
_TOP_RULES = """
SELECT h.rule_id, r.name, count(*)::int AS hits
FROM analytics.fact_decisions f
JOIN decision_rule_hits h ON h.decision_id = f.decision_id AND NOT h.shadow
LEFT JOIN rules r ON r.rule_id::text = h.rule_id
WHERE (f.date_key, f.time_key) >= (%(start_date)s, %(start_time)s)
  AND (f.date_key, f.time_key) < (%(end_date)s, %(end_time)s)
  AND f.rules_fired_count > 0
GROUP BY h.rule_id, r.name
ORDER BY hits DESC, h.rule_id
LIMIT %(limit)s
"""

# From the window's start to now, the current minute included: a list, not a rate.
_DECLINES = """
WITH latest AS (
    SELECT d.decision_id, d.transaction_id, d.account_id, d.decided_at, d.risk_score,
           d.reason_codes, f.amount, f.currency
    FROM analytics.fact_decisions f JOIN decisions d USING (decision_id)
    WHERE f.outcome = 'DECLINE'
      AND (f.date_key, f.time_key) >= (%(start_date)s, %(start_time)s)
    ORDER BY d.decided_at DESC, d.decision_id
    LIMIT %(limit)s
)
SELECT l.transaction_id, l.account_id, l.decided_at, l.amount, l.currency, l.risk_score,
       l.reason_codes,
       ARRAY(SELECT coalesce(r.name, h.rule_id)
             FROM decision_rule_hits h LEFT JOIN rules r ON r.rule_id::text = h.rule_id
             WHERE h.decision_id = l.decision_id AND NOT h.shadow
             ORDER BY 1) AS rules
FROM latest l
ORDER BY l.decided_at DESC, l.decision_id
"""


@dataclass(frozen=True, slots=True)
class MinuteRow:
    date_key: int
    time_key: int
    decisions: int
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class TopRule:
    rule_id: str
    name: str | None
    hits: int

    @property
    def label(self) -> str:
        return self.name or self.rule_id


@dataclass(frozen=True, slots=True)
class Decline:
    transaction_id: str
    account_id: str
    decided_at: datetime
    amount: Decimal
    currency: str
    risk_score: float
    reason_codes: list[dict[str, Any]]
    rules: list[str]

    @property
    def reasons(self) -> list[str]:
        """The model's reason codes as "feature (+contribution)", as stored (strongest first)."""
        return [
            f"{r.get('feature', '?')} ({float(r.get('contribution', 0.0)):+.2f})"
            for r in self.reason_codes
        ]


async def per_minute(conn: AsyncConnection, window: Window) -> list[MinuteRow]:
    """Decisions and p99 latency of each minute of ``window`` that has decisions."""
    async with conn.cursor(row_factory=class_row(MinuteRow)) as cur:
        await cur.execute(_PER_MINUTE, window.bounds())
        return await cur.fetchall()


async def top_rules(conn: AsyncConnection, window: Window, limit: int = 5) -> list[TopRule]:
    """The rules that fired most in ``window``, most hits first."""
    async with conn.cursor(row_factory=class_row(TopRule)) as cur:
        await cur.execute(_TOP_RULES, {**window.bounds(), "limit": limit})
        return await cur.fetchall()


async def latest_declines(conn: AsyncConnection, window: Window, limit: int = 10) -> list[Decline]:
    """The newest DECLINEs decided for transactions since ``window``'s start, newest first."""
    async with conn.cursor(row_factory=class_row(Decline)) as cur:
        await cur.execute(_DECLINES, {**window.bounds(), "limit": limit})
        return await cur.fetchall()
