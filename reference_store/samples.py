"""The recent decided transactions a rule's dry run evaluates, with their stored features.

Newest first by the time the sink recorded them; each row has the transaction's fields as
the rule context reads them, the features and outcome the decision recorded, the account's
home country and the fraud label when there is one. One row per transaction: the decisions
table holds one decision per transaction, whatever ledger entries follow it.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

_RECENT = """
SELECT t.transaction_id, t.account_id, t.card_token, t.amount, t.currency,
       t.merchant_id, t.mcc, t.country, t.city, t.lat, t.lon, t.channel, t.device_id,
       t.ip, t.type, t.event_ts AS timestamp, d.features, d.outcome::text AS outcome,
       a.home_country, l.is_fraud
FROM transactions t JOIN decisions d USING (transaction_id)
LEFT JOIN accounts a ON a.account_id = t.account_id
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
ORDER BY t.recorded_at DESC LIMIT %s
"""


async def recent_decided(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` decided transactions, newest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_RECENT, (limit,))
        return await cur.fetchall()
