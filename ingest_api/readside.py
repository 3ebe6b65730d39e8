"""Read-side queries over the ledger's tables: transactions, decisions, history, balances.

Amounts leave as decimal strings and timestamps as RFC 3339, never floats; the history is
keyset-paginated on (event time, transaction id), so a page costs the same at any depth.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ingest_api.errors import InvalidRequest
from schemas.validation import external_id_problem

TX_COLUMNS = (
    "t.transaction_id, t.account_id, t.card_token, t.amount, t.currency, t.merchant_id, "
    "t.mcc, t.country, t.city, t.lat, t.lon, t.channel, t.device_id, t.ip, "
    "t.event_ts AS timestamp, t.type, t.ingested_at"
)


def _json_ready(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value)
        if isinstance(value, Decimal)
        else value.isoformat()
        if isinstance(value, datetime)
        else value
        for key, value in row.items()
    }


async def transaction(conn: AsyncConnection, transaction_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {TX_COLUMNS} FROM transactions t WHERE t.transaction_id = %s",  # noqa: S608
            (transaction_id,),
        )
        row = await cur.fetchone()
    return _json_ready(row) if row else None


class LabelledTransaction(NamedTuple):
    """What a label takes from the ledger's row of its transaction."""

    account_id: str
    merchant_id: str
    timestamp: datetime


async def labelled_transactions(
    conn: AsyncConnection, transaction_ids: Sequence[str]
) -> dict[str, LabelledTransaction]:
    """The recorded transactions among ``transaction_ids``, by id (one query for a batch)."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT transaction_id, account_id, merchant_id, event_ts FROM transactions"
            " WHERE transaction_id = ANY(%s::text[])",
            (list(transaction_ids),),
        )
        rows = await cur.fetchall()
    return {tid: LabelledTransaction(account, merchant, ts) for tid, account, merchant, ts in rows}


async def decision(conn: AsyncConnection, transaction_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT d.decision_id::text, d.transaction_id, d.account_id, d.outcome, d.risk_score,"
            " d.model_version, d.challenger_model_version, d.challenger_score, d.features,"
            " d.reason_codes, d.ingested_at, d.decided_at,"
            " coalesce(jsonb_agg(jsonb_build_object('rule_id', h.rule_id, 'version',"
            " h.rule_version, 'action', h.action, 'shadow', h.shadow))"
            " FILTER (WHERE h.rule_id IS NOT NULL), '[]') AS hits"
            " FROM decisions d LEFT JOIN decision_rule_hits h USING (decision_id)"
            " WHERE d.transaction_id = %s GROUP BY d.decision_id",
            (transaction_id,),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    hits = row.pop("hits")
    row["rules_fired"] = [_hit(h) for h in hits if not h["shadow"]]
    row["shadow_rules_fired"] = [_hit(h) for h in hits if h["shadow"]]
    return _json_ready(row)


def _hit(hit: dict[str, Any]) -> dict[str, Any]:
    return {"rule_id": hit["rule_id"], "version": hit["version"], "action": hit["action"]}


def encode_cursor(event_ts: datetime, transaction_id: str) -> str:
    raw = orjson.dumps([event_ts.isoformat(), transaction_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (event time, transaction id) a cursor holds; anything else is a 422.

    A cursor is client input: only what ``encode_cursor`` could have written gets through,
    an aware time and an id PostgreSQL can compare (a NUL byte once came back as a 500).
    Ids are not held to the API's shape: records produced straight to Kafka carry others.
    """
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        ts, tid = orjson.loads(raw)
        moment = datetime.fromisoformat(ts)
        if not isinstance(tid, str) or external_id_problem(tid) or moment.tzinfo is None:
            raise ValueError("not a cursor this API wrote")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidRequest("malformed cursor", {"cursor": cursor}) from exc
    return moment, tid


async def history(
    conn: AsyncConnection,
    account_id: str,
    limit: int,
    cursor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    outcome: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an account's transactions, newest first, with their outcomes."""
    clauses: list[str] = ["t.account_id = %s"]
    params: list[object] = [account_id]
    if cursor:
        ts, tid = decode_cursor(cursor)
        clauses.append("(t.event_ts, t.transaction_id) < (%s, %s)")
        params += [ts, tid]
    for clause, value in (
        ("t.event_ts >= %s", since),
        ("t.event_ts < %s", until),
        ("d.outcome = %s", outcome),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    sql = (
        f"SELECT {TX_COLUMNS}, d.outcome, d.risk_score FROM transactions t"  # noqa: S608
        f" LEFT JOIN decisions d USING (transaction_id) WHERE {' AND '.join(clauses)}"
        " ORDER BY t.event_ts DESC, t.transaction_id DESC LIMIT %s"
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, [*params, limit + 1])
        rows = await cur.fetchall()
    page = rows[:limit]
    more = len(rows) > limit
    next_cursor = encode_cursor(page[-1]["timestamp"], page[-1]["transaction_id"]) if more else None
    return [_json_ready(row) for row in page], next_cursor


async def balance(conn: AsyncConnection, account_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT account_id, balance, currency, updated_at FROM balances WHERE account_id = %s",
            (account_id,),
        )
        row = await cur.fetchone()
    return _json_ready(row) if row else None
