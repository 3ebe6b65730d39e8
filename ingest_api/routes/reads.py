"""GET endpoints served from the PostgreSQL ledger: transactions, decisions, history, balance."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime, BeforeValidator

from ingest_api import readside
from ingest_api.db import query
from ingest_api.deps import ReadKey, RuntimeDep
from ingest_api.errors import NotFound
from ingest_api.models import BalanceOut, DecisionOut, ErrorBody, HistoryPage, TransactionOut
from schemas.enums import Outcome

router = APIRouter(prefix="/v1", tags=["read"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 422, 429, 503)
}


def _rfc3339_text(value: object) -> object:
    """Only RFC 3339 text, as the schema's date-time says; pydantic alone would also take
    "0.5" (seconds since the epoch) from a query string."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time such as 2026-12-04T10:30:00Z")
    return value


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
Id = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/transactions/{transaction_id}", responses={200: {"model": TransactionOut}, **ERRORS})
async def get_transaction(transaction_id: Id, runtime: RuntimeDep, _key: ReadKey) -> Response:
    """A recorded transaction (written by the ledger sink once it is decided)."""
    row = await query(runtime, lambda c: readside.transaction(c, transaction_id))
    if row is None:
        raise NotFound(f"no recorded transaction {transaction_id}")
    return _json(row)


@router.get("/decisions/{transaction_id}", responses={200: {"model": DecisionOut}, **ERRORS})
async def get_decision(transaction_id: Id, runtime: RuntimeDep, _key: ReadKey) -> Response:
    """The decision of a transaction, with the rules (and shadow rules) that fired."""
    row = await query(runtime, lambda c: readside.decision(c, transaction_id))
    if row is None:
        raise NotFound(f"no decision recorded yet for transaction {transaction_id}")
    return _json(row)


@router.get(
    "/accounts/{account_id}/transactions", responses={200: {"model": HistoryPage}, **ERRORS}
)
async def get_history(
    account_id: Id,
    runtime: RuntimeDep,
    _key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="Opaque: the `next_cursor` of the previous page (base64url).",
        ),
    ] = None,
    since: Annotated[Rfc3339 | None, Query(alias="from")] = None,
    until: Annotated[Rfc3339 | None, Query(alias="to")] = None,
    outcome: Outcome | None = None,
) -> Response:
    """An account's transactions, newest first, with their outcomes; cursor-paginated."""
    items, next_cursor = await query(
        runtime,
        lambda c: readside.history(
            c, account_id, limit, cursor, since, until, outcome.value if outcome else None
        ),
    )
    return _json({"items": items, "next_cursor": next_cursor})


@router.get("/accounts/{account_id}/balance", responses={200: {"model": BalanceOut}, **ERRORS})
async def get_balance(account_id: Id, runtime: RuntimeDep, _key: ReadKey) -> Response:
    """The account's balance as the ledger holds it."""
    row = await query(runtime, lambda c: readside.balance(c, account_id))
    if row is None:
        raise NotFound(f"no balance recorded for account {account_id}")
    return _json(row)
