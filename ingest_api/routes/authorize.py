"""POST /v1/authorize: publish a transaction and wait for its decision up to a deadline."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ingest_api.deps import MeteredIngestKey, RuntimeDep
from ingest_api.errors import InvalidRequest
from ingest_api.ingest import (
    IdClaims,
    awaited_headers,
    context,
    idempotent,
    parse_transaction,
    publish_one,
    utcnow,
)
from ingest_api.metrics import AUTHORIZE_FALLBACKS
from ingest_api.models import AuthorizeOut, TransactionIn
from ingest_api.routes.transactions import ERRORS, IdempotencyKey, _body
from schemas.enums import Outcome
from schemas.fingerprint import transaction_fingerprint
from schemas.records import Decision

router = APIRouter(prefix="/v1", tags=["ingest"])


@router.post(
    "/authorize",
    responses={200: {"model": AuthorizeOut}, **ERRORS},
    openapi_extra=_body(TransactionIn),
    summary="Submit a transaction and wait for its decision",
)
async def authorize(
    request: Request,
    runtime: RuntimeDep,
    metered: MeteredIngestKey,
    idempotency_key: IdempotencyKey = None,
    deadline_ms: Annotated[
        int | None, Query(description="Override the default deadline, within the bounds.")
    ] = None,
) -> Response:
    started = time.perf_counter()
    settings = runtime.settings
    deadline = settings.authorize_deadline_ms if deadline_ms is None else deadline_ms
    if not settings.authorize_deadline_min_ms <= deadline <= settings.authorize_deadline_max_ms:
        raise InvalidRequest(
            "deadline_ms out of bounds",
            {"min": settings.authorize_deadline_min_ms, "max": settings.authorize_deadline_max_ms},
        )
    body = await request.body()
    now = utcnow()
    tx = parse_transaction(body, context(settings, now))
    tid = str(tx.transaction_id)
    record = tx.to_record(now, idempotency_key or "")

    async def publish_and_wait(claimed: IdClaims) -> tuple[int, bytes]:
        # Only the decision of this very transaction answers: not one for another body that
        # reused its id (produced straight to Kafka, where no 409 stops it).
        try:
            # Marked awaited: the agents decide it without waiting for a batch to fill, and
            # copy its decision to the partition this process reads. Read before ``expect``:
            # a partition chosen in between (only while the process starts) is then one the
            # header does not name, never one named and not followed.
            headers = awaited_headers(runtime.waiter.reply_partition)
            # Before publishing: the waiter then reads its reply partition from before this
            # transaction's reply can be there.
            waiting = await runtime.waiter.expect(
                tid, transaction_fingerprint(record), _remaining(deadline, started)
            )
            await publish_one(runtime, record, claimed, headers)
            decision = await asyncio.wait_for(waiting, _remaining(deadline, started))
        except TimeoutError:
            decision = None
        finally:
            runtime.waiter.forget(tid)
        return 200, _answer(tid, decision, settings.authorize_fallback, started).encode()

    # The request is counted against the key's limits with its claims, one round trip.
    scope, path = metered.key.key_id, request.url.path
    return await idempotent(
        runtime, scope, path, idempotency_key, body, publish_and_wait, [record], metered.charge
    )


def _remaining(deadline_ms: int, started: float) -> float:
    return max(deadline_ms / 1000 - (time.perf_counter() - started), 0.0)


def _answer(tid: str, decision: Decision | None, fallback: Outcome, started: float) -> str:
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    if decision is None:
        AUTHORIZE_FALLBACKS.inc()
        return AuthorizeOut(
            transaction_id=tid,
            decision_id=None,
            outcome=fallback,
            risk_score=None,
            reasons=["no decision within the deadline: fallback outcome"],
            fallback=True,
            elapsed_ms=elapsed,
        ).model_dump_json()
    reasons = [f"rule {hit.rule_id} v{hit.version}: {hit.action}" for hit in decision.rules_fired]
    reasons += [f"{r.feature}={r.value:g} ({r.contribution:+.3f})" for r in decision.reason_codes]
    return AuthorizeOut(
        transaction_id=tid,
        decision_id=decision.decision_id,
        outcome=decision.outcome,
        risk_score=decision.risk_score,
        reasons=reasons,
        fallback=False,
        elapsed_ms=elapsed,
    ).model_dump_json()
