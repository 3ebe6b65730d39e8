"""The ingest use case: validate, claim the idempotency key, publish durably, answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pydantic_core
from fastapi import Response

from ingest_api.errors import InvalidRequest, TransactionIdConflict
from ingest_api.idempotency import StoredResponse, body_fingerprint, check_key
from ingest_api.metrics import IDEMPOTENT_REPLAYS
from ingest_api.models import BatchIn, TransactionIn, ValidationContext
from ingest_api.publisher import OutgoingRecord
from ingest_api.runtime import Runtime
from ingest_api.settings import ApiSettings
from ingest_api.transaction_ids import TransactionIds
from schemas.codec import encode_transaction
from schemas.records import Transaction
from schemas.transaction_claims import conflicts, created, short_fingerprint

JSON = "application/json"
Action = Callable[[], Awaitable[tuple[int, bytes]]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def context(settings: ApiSettings, now: datetime) -> ValidationContext:
    return ValidationContext(
        now=now, max_future_skew_s=settings.max_future_skew_s, max_age_days=settings.max_age_days
    )


def parse_transaction(raw: bytes | dict[str, Any], ctx: ValidationContext) -> TransactionIn:
    """Strict validation; raw bytes go through pydantic's JSON parser in one pass."""
    if isinstance(raw, bytes):
        return TransactionIn.model_validate_json(raw, strict=True, context=ctx)
    # Items of a batch arrive parsed; round-trip them so they get the same JSON-mode rules.
    return TransactionIn.model_validate_json(orjson.dumps(raw), strict=True, context=ctx)


def parse_batch(raw: bytes, max_items: int) -> list[dict[str, Any]]:
    """A batch's items, counted before any of them is validated.

    The body is parsed once without validation (it is bounded by the body limit), its items
    counted, and only then is the batch's shape validated: an oversized batch costs no
    per-item work. Big integers survive the parse, so such an item is refused on its own.
    """
    try:
        parsed = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError:
        parsed = None  # the strict validation below names the JSON error
    items = parsed.get("transactions") if isinstance(parsed, dict) else None
    if isinstance(items, list) and len(items) > max_items:
        raise InvalidRequest(
            f"a batch holds at most {max_items} transactions",
            {"items": len(items), "max": max_items},
        )
    if parsed is None:
        return BatchIn.model_validate_json(raw, strict=True).transactions
    return BatchIn.model_validate(parsed, strict=True).transactions


def outgoing(tx: TransactionIn, now: datetime, idempotency_key: str) -> OutgoingRecord:
    return outgoing_record(tx.to_record(now, idempotency_key))


def outgoing_record(record: Transaction) -> OutgoingRecord:
    return OutgoingRecord(key=record.account_id.encode(), value=encode_transaction(record))


async def publish_claimed(runtime: Runtime, records: list[Transaction]) -> list[bool]:
    """Publish ``records`` whose transaction ids are not taken by other content; per record,
    whether it was refused as a conflict (``transaction_ids``). Nothing is published for
    a conflicting one; a failed publish frees the ids it claimed."""
    ids = TransactionIds(runtime.redis, runtime.settings.transaction_id_window_s)
    claims = [(r.transaction_id, short_fingerprint(r)) for r in records]
    previous = await ids.claim(claims)
    clashing = conflicts(claims, previous)
    publishable = [
        outgoing_record(r) for r, clash in zip(records, clashing, strict=True) if not clash
    ]
    try:
        if publishable:
            await runtime.publisher.publish(publishable)
    except BaseException:
        await ids.release(created(claims, previous))
        raise
    return clashing


async def publish_one(runtime: Runtime, record: Transaction) -> None:
    """``publish_claimed`` for one transaction: a conflict is a 409, nothing published."""
    if (await publish_claimed(runtime, [record]))[0]:
        raise TransactionIdConflict(
            "this transaction_id was already used for a transaction with different content",
            {"transaction_id": record.transaction_id},
        )


def decision_url(transaction_id: str) -> str:
    return f"/v1/decisions/{transaction_id}"


async def idempotent(
    runtime: Runtime,
    scope: str,
    route: str,
    idempotency_key: str | None,
    body: bytes,
    action: Action,
) -> Response:
    """Run ``action`` once per (key, Idempotency-Key); replay its response afterwards."""
    key = check_key(idempotency_key)
    store = runtime.idempotency
    rkey = store.redis_key(scope, key)
    fingerprint = body_fingerprint(route.encode() + b"\n" + body)
    stored = await store.claim(rkey, fingerprint)
    if stored is not None:
        IDEMPOTENT_REPLAYS.inc()
        return Response(stored.body, stored.status, {"Idempotent-Replayed": "true"}, JSON)
    try:
        status, payload = await action()
    except BaseException:
        await store.release(rkey)
        raise
    await store.complete(rkey, fingerprint, StoredResponse(status, payload))
    return Response(payload, status, media_type=JSON)
