"""Decisions turned into the rows of each table the sink writes: pure, no I/O.

Rows are tuples in the column order of ``ledger_sink.sql``; ``columns`` turns a list of rows
into one list per column, which the statements pass as arrays to ``unnest`` (one round trip
per table per batch, whatever the batch size).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date
from typing import Any

import orjson

from ledger_sink.hashchain import LedgerEntry
from schemas.records import Decision, decision_id_for

Row = tuple[Any, ...]
# fact_decisions.latency_ms is an integer column.
_INT32 = 2**31 - 1


def inconsistency(decision: Decision) -> str | None:
    """Why `decision` contradicts itself, or None: such a record is dead-lettered, not stored."""
    tx = decision.transaction
    if decision.transaction_id != tx.transaction_id:
        return f"decision names transaction {decision.transaction_id}, embeds {tx.transaction_id}"
    if decision.account_id != tx.account_id:
        return f"decision names account {decision.account_id}, its transaction {tx.account_id}"
    if decision.decision_id != decision_id_for(decision.transaction_id):
        # The id is the idempotency key: another id would let one transaction be decided twice.
        return f"decision_id {decision.decision_id} is not decision_id_for(transaction_id)"
    return None


def unique_by_transaction(decisions: Iterable[Decision]) -> list[Decision]:
    """`decisions` without repeats of a transaction (a redelivery): the first one wins."""
    seen: set[str] = set()
    kept: list[Decision] = []
    for decision in decisions:
        if decision.transaction_id not in seen:
            seen.add(decision.transaction_id)
            kept.append(decision)
    return kept


def columns(rows: Sequence[Row], width: int) -> list[list[Any]]:
    """`rows` transposed into `width` column lists (empty lists when there are no rows)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


def _json(value: object) -> str:
    # orjson writes NaN and infinities as null: jsonb refuses them, and one odd feature value
    # must not cost the whole decision its place in the ledger.
    return orjson.dumps(value).decode()


def transaction_row(decision: Decision) -> Row:
    tx = decision.transaction
    return (
        tx.transaction_id,
        tx.account_id,
        tx.card_token,
        tx.amount,
        tx.currency,
        tx.merchant_id,
        tx.merchant_name,
        tx.mcc,
        tx.country,
        tx.city,
        tx.lat,
        tx.lon,
        str(tx.channel),
        tx.device_id,
        tx.ip,
        tx.timestamp,
        str(tx.type),
        tx.ingested_at,
        tx.idempotency_key,
    )


def decision_row(decision: Decision) -> Row:
    reasons = [
        {"feature": r.feature, "value": r.value, "contribution": r.contribution}
        for r in decision.reason_codes
    ]
    return (
        decision.decision_id,
        decision.transaction_id,
        decision.account_id,
        str(decision.outcome),
        decision.risk_score,
        decision.model_version,
        _json(dict(decision.features)),
        _json(reasons),
        decision.ingested_at,
        decision.decided_at,
        decision.challenger_model_version,
        _shadow_score(decision.challenger_score),
    )


def _shadow_score(score: float | None) -> float | None:
    # A shadow score outside [0, 1] (NaN included) is kept as unknown: it must not cost the
    # decision its ledger row, since the challenger never decides.
    return score if score is not None and 0.0 <= score <= 1.0 else None


def rule_hit_rows(decision: Decision) -> list[Row]:
    return [
        (decision.decision_id, hit.rule_id, hit.version, hit.action, shadow)
        for shadow, hits in ((False, decision.rules_fired), (True, decision.shadow_rules_fired))
        for hit in hits
    ]


def entry_row(entry: LedgerEntry) -> Row:
    return (
        entry.account_id,
        entry.seq,
        entry.transaction_id,
        str(entry.decision_id),
        entry.outcome,
        entry.amount,
        entry.currency,
        entry.direction,
        entry.balance_after,
        entry.created_at,
        entry.hash_version,
        entry.prev_hash,
        entry.entry_hash,
        entry.kind,
        None if entry.resolution_id is None else str(entry.resolution_id),
    )


def merchant_rows(decisions: Iterable[Decision]) -> list[Row]:
    """One row per merchant, the latest attributes winning (an upsert may touch a row once)."""
    latest: dict[str, Row] = {}
    for decision in decisions:
        tx = decision.transaction
        latest[tx.merchant_id] = (tx.merchant_id, tx.merchant_name, tx.mcc)
    return sorted(latest.values())


def location_rows(decisions: Iterable[Decision]) -> list[Row]:
    found = {(d.transaction.country, d.transaction.city) for d in decisions}
    return sorted(found, key=lambda row: (row[0], row[1] or ""))


def event_date(decision: Decision) -> date:
    return decision.transaction.timestamp.astimezone(UTC).date()


def fact_row(decision: Decision) -> Row:
    tx = decision.transaction
    at = tx.timestamp.astimezone(UTC)
    latency = (decision.decided_at - decision.ingested_at).total_seconds() * 1000
    return (
        decision.decision_id,
        decision.transaction_id,
        decision.account_id,
        tx.merchant_id,
        at.date(),
        at.hour * 60 + at.minute,
        tx.country,
        tx.city,
        str(tx.channel),
        str(tx.type),
        tx.amount,
        tx.currency,
        decision.risk_score,
        str(decision.outcome),
        max(-_INT32, min(_INT32, round(latency))),
        len(decision.rules_fired),
        len(decision.shadow_rules_fired),
    )
