"""POST /v1/transactions (single and batch): validated, idempotent, durably in Kafka on 2xx."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from pydantic import ValidationError

from ingest_api.deps import IngestKey, MeteredIngestKey, RuntimeDep, quota_of
from ingest_api.handlers import field_errors
from ingest_api.ingest import (
    Charge,
    IdClaims,
    context,
    decision_url,
    idempotent,
    parse_batch,
    parse_transaction,
    publish_claimed,
    publish_one,
    utcnow,
)
from ingest_api.models import Accepted, BatchAccepted, BatchIn, ErrorBody, TransactionIn

router = APIRouter(prefix="/v1/transactions", tags=["ingest"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Required: retries with the same key and "
        "body return the first response and publish nothing.",
        max_length=255,
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 409, 422, 429, 503)
}


def _body(model: type[TransactionIn] | type[BatchIn]) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post(
    "",
    status_code=202,
    responses={202: {"model": Accepted}, **ERRORS},
    openapi_extra=_body(TransactionIn),
    summary="Submit one transaction",
)
async def submit(
    request: Request,
    runtime: RuntimeDep,
    metered: MeteredIngestKey,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    body = await request.body()
    now = utcnow()
    tx = parse_transaction(body, context(runtime.settings, now))
    tid = str(tx.transaction_id)
    record = tx.to_record(now, idempotency_key or "")

    async def publish(claimed: IdClaims) -> tuple[int, bytes]:
        await publish_one(runtime, record, claimed)
        return 202, Accepted(
            transaction_id=tid, decision_url=decision_url(tid)
        ).model_dump_json().encode()

    # The request is counted against the key's limits with its claims, one round trip.
    scope, path = metered.key.key_id, request.url.path
    return await idempotent(
        runtime, scope, path, idempotency_key, body, publish, [record], metered.charge
    )


@router.post(
    "/batch",
    status_code=202,
    responses={202: {"model": BatchAccepted}, **ERRORS},
    openapi_extra=_body(BatchIn),
    summary="Submit many transactions, a result for each",
)
async def submit_batch(
    request: Request, runtime: RuntimeDep, key: IngestKey, idempotency_key: IdempotencyKey = None
) -> Response:
    body = await request.body()
    items = parse_batch(body, runtime.settings.batch_max_items)
    # The items beyond the first (the dependency counted one) are counted with the claims.
    charge = Charge(key.key_id, quota_of(key, runtime), len(items) - 1) if len(items) > 1 else None
    now = utcnow()
    results, valid = _validate_items(items, runtime, now)
    records = [tx.to_record(now, idempotency_key or "") for tx in valid]

    async def publish(claimed: IdClaims) -> tuple[int, bytes]:
        clashing = await publish_claimed(runtime, records, claimed)
        pairs = zip(records, clashing, strict=True)
        _refuse_conflicts(results, {r.transaction_id for r, clash in pairs if clash})
        accepted = sum(1 for r in results if r["status"] == "accepted")
        out = {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
        return 202, orjson.dumps(out)

    return await idempotent(
        runtime, key.key_id, request.url.path, idempotency_key, body, publish, records, charge
    )


def _validate_items(
    items: list[dict[str, Any]], runtime: RuntimeDep, now: datetime
) -> tuple[list[dict[str, Any]], list[TransactionIn]]:
    """A result per item; a repeated transaction id within the batch is rejected."""
    ctx = context(runtime.settings, now)
    results: list[dict[str, Any]] = []
    valid: list[TransactionIn] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            tx = parse_transaction(item, ctx)
        except (ValidationError, orjson.JSONEncodeError) as exc:
            tid = item.get("transaction_id")
            error = _error("validation_failed", "invalid transaction", _details(exc))
            results.append(_result(index, tid if isinstance(tid, str) else None, error))
            continue
        tid = str(tx.transaction_id)
        if tid in seen:
            error = _error("duplicate_in_batch", "transaction_id repeated in this batch")
            results.append(_result(index, tid, error))
            continue
        seen.add(tid)
        valid.append(tx)
        results.append(_result(index, tid))
    return results, valid


def _refuse_conflicts(results: list[dict[str, Any]], conflicting: set[str]) -> None:
    """Turn the accepted results of ``conflicting`` transaction ids into rejections."""
    for index, result in enumerate(results):
        if result["status"] == "accepted" and result["transaction_id"] in conflicting:
            error = _error(
                "transaction_id_conflict",
                "transaction_id already used for a transaction with different content",
            )
            results[index] = _result(result["index"], result["transaction_id"], error)


def _details(exc: ValidationError | orjson.JSONEncodeError) -> list[dict[str, Any]]:
    if isinstance(exc, ValidationError):
        return field_errors(exc.errors(include_url=False, include_input=False))
    # Parsed JSON that cannot be written back (an integer beyond 64 bits, a lone surrogate):
    # the item is refused as a whole, like any other invalid one, never a 500.
    return [{"path": "$", "message": str(exc), "type": "json_invalid"}]


def _error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def _result(index: int, tid: str | None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "index": index,
        "transaction_id": tid,
        "status": "rejected" if error else "accepted",
        "decision_url": None if error or tid is None else decision_url(tid),
        "error": error,
    }
