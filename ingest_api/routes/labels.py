"""POST /v1/labels: a chargeback or fraud confirmation from the bank's systems, onto ``labels``.

Validated and built by ``ingest_api.label_intake`` (shared with `sentinel labels import`),
idempotent like the ingest routes (the raw body is fingerprinted), durably in Kafka on 202.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from ingest_api import readside
from ingest_api.db import query
from ingest_api.deps import LabelsKey, RuntimeDep
from ingest_api.ingest import IdClaims, idempotent, utcnow
from ingest_api.label_intake import build_label, label_body, outgoing, parse_label
from ingest_api.models import ErrorBody, LabelAccepted
from ingest_api.routes.transactions import IdempotencyKey

router = APIRouter(prefix="/v1/labels", tags=["labels"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 422, 429, 503)
}
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LabelIn"}}},
    }
}


@router.post(
    "",
    status_code=202,
    responses={202: {"model": LabelAccepted}, **ERRORS},
    openapi_extra=BODY,
    summary="Label a recorded transaction (chargeback, confirmed fraud or genuine)",
)
async def submit_label(
    request: Request, runtime: RuntimeDep, key: LabelsKey, idempotency_key: IdempotencyKey = None
) -> Response:
    """The label, with its account, merchant and event time read from the ledger, once it is
    durably on the labels topic. 404 `transaction_not_found` when the ledger does not hold
    the transaction."""
    body = await request.body()
    received_at = utcnow()
    item = parse_label(body)

    async def publish(_claimed: IdClaims) -> tuple[int, bytes]:
        found = await query(
            runtime, lambda c: readside.labelled_transactions(c, [item.transaction_id])
        )
        tx = found.get(item.transaction_id)
        label = build_label(item, tx, received_at, runtime.settings.max_future_skew_s)
        record, published = outgoing(label, runtime.settings.kafka)
        await runtime.publisher.publish([record])
        return 202, orjson.dumps(label_body(published))

    return await idempotent(runtime, key.key_id, request.url.path, idempotency_key, body, publish)
