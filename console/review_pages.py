"""The review queue's pages: the queue, a case, and the claim, release and resolve actions.

Viewers see the queue and the cases; analysts and admins claim and resolve. Every action is
audited (``console_audit``) with the user who took it. See ``console/reviews.py`` for how a
resolution travels (the ``reviews`` topic, then the reviews sink).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import audit, reviews
from console.deps import Analyst, PostedBy, RuntimeDep, SignedIn, Viewer
from console.errors import Conflict, NotFound
from console.runtime import Runtime
from console.templating import templates
from ingest_api import readside
from schemas.records import ReviewResolution

router = APIRouter(prefix="/console/reviews")
# A path's transaction id: text PostgreSQL stores (no NUL), of the ids' length.
TransactionId = Annotated[str, Path(max_length=256, pattern=r"^[^\x00]+$")]
QUEUE_LIMIT = 100
HISTORY_LIMIT = 10

CLAIM = "review.claim"
RELEASE = "review.release"
RESOLVE = "review.resolve"


@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request, runtime: RuntimeDep, user: Viewer) -> Response:
    now = datetime.now(UTC)
    sla = timedelta(minutes=runtime.settings.review_sla_minutes)
    async with runtime.pool.connection(timeout=2) as conn:
        cases = await reviews.open_cases(conn, QUEUE_LIMIT)
        total = await reviews.open_count(conn)
    holders = await runtime.claims.holders([c["transaction_id"] for c in cases])
    for case in cases:
        case["ageing"] = reviews.ageing(case["decided_at"], now, sla)
        case["age"] = reviews.age_text(case["decided_at"], now)
        case["holder"] = holders.get(case["transaction_id"])
    context = {"user": user, "cases": cases, "total": total, "sla": sla, "money": reviews.money}
    return templates.TemplateResponse(request, "reviews.html", context)


@router.get("/{transaction_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, transaction_id: TransactionId, runtime: RuntimeDep, user: Viewer
) -> Response:
    context = await _case(runtime, transaction_id)
    context.update(user=user, resolution_id=str(uuid.uuid4()), verdicts=reviews.Verdict)
    return templates.TemplateResponse(request, "review_case.html", context)


@router.post("/{transaction_id}/claim")
async def claim(
    transaction_id: TransactionId, runtime: RuntimeDep, user: PostedBy, _: Analyst
) -> Response:
    await _open_case(runtime, transaction_id)
    holder = await runtime.claims.claim(transaction_id, user.username)
    if holder != user.username:
        raise Conflict(f"{holder} is working on this case")
    await _audit(runtime, user, CLAIM, transaction_id, {"ttl_s": runtime.claims.ttl_s})
    return _back_to(transaction_id)


@router.post("/{transaction_id}/release")
async def release(
    transaction_id: TransactionId, runtime: RuntimeDep, user: PostedBy, _: Analyst
) -> Response:
    if await runtime.claims.release(transaction_id, user.username):
        await _audit(runtime, user, RELEASE, transaction_id, {})
    return _back_to(transaction_id)


@router.post("/{transaction_id}/resolve", response_class=HTMLResponse)
async def resolve(
    request: Request,
    transaction_id: TransactionId,
    runtime: RuntimeDep,
    user: PostedBy,
    _: Analyst,
    resolution_id: Annotated[uuid.UUID, Form()],
    verdict: Annotated[reviews.Verdict, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    settings = runtime.settings
    async with runtime.pool.connection(timeout=2) as conn:
        stored = await reviews.resolution(conn, transaction_id)
    if stored is None:  # not resolved yet: this analyst must be working on it
        case = await _open_case(runtime, transaction_id)
        if await runtime.claims.holder(transaction_id) != user.username:
            raise Conflict("claim the case before resolving it")
        now = datetime.now(UTC)
        sent = reviews.resolution_of(case, verdict, note, user.username, str(resolution_id), now)
        await runtime.publisher.resolution(sent)
        await _audit(runtime, user, RESOLVE, transaction_id, _detail(sent))
        stored = await reviews.wait_for_resolution(
            runtime.pool.connection, transaction_id, settings.resolve_wait_s
        )
    outcome = _outcome(stored, str(resolution_id))
    if outcome == "applied":
        await runtime.claims.release(transaction_id, user.username)
    context = {"user": user, "transaction_id": transaction_id, "stored": stored, "outcome": outcome}
    status = 409 if outcome == "refused" else 202 if outcome == "pending" else 200
    return templates.TemplateResponse(request, "review_result.html", context, status_code=status)


def _outcome(stored: dict[str, Any] | None, resolution_id: str) -> str:
    """applied (ours took effect), refused (another did), pending (not applied yet)."""
    if stored is None:
        return "pending"
    return "applied" if stored["resolution_id"] == resolution_id else "refused"


async def _case(runtime: Runtime, transaction_id: str) -> dict[str, Any]:
    """Everything the case page shows: transaction, decision, reasons, rules, history."""
    async with runtime.pool.connection(timeout=2) as conn:
        decision = await readside.decision(conn, transaction_id)
        if decision is None:
            raise NotFound(f"no decision for transaction {transaction_id}")
        tx = await readside.transaction(conn, transaction_id)
        history, _ = await readside.history(conn, decision["account_id"], HISTORY_LIMIT)
        stored = await reviews.resolution(conn, transaction_id)
        fired = decision["rules_fired"] + decision["shadow_rules_fired"]
        names = await reviews.rule_names(conn, [hit["rule_id"] for hit in fired])
    holder = await runtime.claims.holder(transaction_id)
    return {
        "tx": tx,
        "decision": decision,
        "bars": reviews.contribution_bars(decision["reason_codes"]),
        "rule_names": names,
        "history": history,
        "stored": stored,
        "holder": holder,
        "money": reviews.money,
    }


async def _open_case(runtime: Runtime, transaction_id: str) -> dict[str, Any]:
    """The REVIEW decision of `transaction_id`, or the reason it cannot be worked on."""
    async with runtime.pool.connection(timeout=2) as conn:
        decision = await readside.decision(conn, transaction_id)
        stored = await reviews.resolution(conn, transaction_id)
    if decision is None:
        raise NotFound(f"no decision for transaction {transaction_id}")
    if decision["outcome"] != "REVIEW":
        raise Conflict(f"transaction {transaction_id} was decided {decision['outcome']}")
    if stored is not None:
        raise Conflict(f"this case was resolved by {stored['analyst']}")
    return decision


def _detail(resolution: ReviewResolution) -> dict[str, Any]:
    return {
        "resolution_id": resolution.resolution_id,
        "verdict": str(resolution.verdict),
        "confirmed_fraud": resolution.confirmed_fraud,
    }


async def _audit(
    runtime: Runtime, user: SignedIn, action: str, target: str, detail: dict[str, Any]
) -> None:
    async with runtime.pool.connection(timeout=2) as conn:
        await audit.record(conn, user.username, action, target, detail)


def _back_to(transaction_id: str) -> Response:
    return RedirectResponse(f"/console/reviews/{transaction_id}", status_code=303)
