"""Search by id, the transaction page and the account page (viewer role): read-only.

The transaction, its decision, an account's history and balance come from the public
API's read side (``ingest_api.readside``), so both show the same rows the same way.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from console import chain, lookup
from console.deps import RuntimeDep, Viewer
from console.errors import BadRequest, NotFound
from console.history_filters import PAGE_SIZE, InvalidFilter, parse_filters
from console.templating import templates
from ingest_api import readside
from schemas.enums import Outcome

router = APIRouter(prefix="/console")
QueryText = Annotated[str | None, Query(max_length=512)]


def transaction_path(transaction_id: str) -> str:
    return "/console/transactions/" + quote(transaction_id, safe="")


def account_path(account_id: str) -> str:
    return "/console/accounts/" + quote(account_id, safe="")


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request, runtime: RuntimeDep, user: Viewer, q: QueryText = None
) -> Response:
    """The id's page when exactly one thing has it; else this page says what was found."""
    text = (q or "").strip()
    context = {"user": user, "q": text, "found": None, "problem": None}
    if text:
        context["problem"] = lookup.query_problem(text)
    if text and context["problem"] is None:
        async with runtime.pool.connection(timeout=2) as conn:
            found = await lookup.find(conn, text)
        if found is lookup.Found.TRANSACTION:
            return RedirectResponse(transaction_path(text), status_code=303)
        if found is lookup.Found.ACCOUNT:
            return RedirectResponse(account_path(text), status_code=303)
        context["found"] = found
    # A search that ran and matched nothing is a page of results (200), not a missing page.
    status = 400 if context["problem"] else 200
    return templates.TemplateResponse(request, "search.html", context, status_code=status)


@router.get("/transactions/{transaction_id:path}", response_class=HTMLResponse)
async def transaction_page(
    request: Request, runtime: RuntimeDep, user: Viewer, transaction_id: str
) -> Response:
    _check_id(transaction_id)
    async with runtime.pool.connection(timeout=2) as conn:
        tx = await readside.transaction(conn, transaction_id)
        if tx is None:
            raise NotFound(f"no recorded transaction {transaction_id}")
        decision = await readside.decision(conn, transaction_id)
        entries = await lookup.ledger_entries(conn, transaction_id)
        label = await lookup.label(conn, transaction_id)
    context = {"user": user, "tx": tx, "decision": decision, "entries": entries, "label": label}
    return templates.TemplateResponse(request, "transaction.html", context)


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
async def account_page(
    request: Request,
    runtime: RuntimeDep,
    user: Viewer,
    account_id: str,
    outcome: QueryText = None,
    since: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    until: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    cursor: QueryText = None,
) -> Response:
    _check_id(account_id)
    try:
        filters = parse_filters(outcome, since, until, cursor)
    except InvalidFilter as exc:
        raise BadRequest(str(exc)) from None
    start, end = filters.bounds()
    async with runtime.pool.connection(timeout=2) as conn:
        if not await lookup.account_exists(conn, account_id):
            raise NotFound(f"no account {account_id}")
        balance = await readside.balance(conn, account_id)
        items, next_cursor = await readside.history(
            conn,
            account_id,
            PAGE_SIZE,
            filters.cursor,
            start,
            end,
            filters.outcome.value if filters.outcome else None,
        )
        state = await chain.chain_state(conn, account_id, runtime.settings.chain_check_entries)
    context = {
        "user": user,
        "account_id": account_id,
        "balance": balance,
        "items": items,
        "filters": filters,
        "next_cursor": next_cursor,
        "chain": state,
        "outcomes": list(Outcome),
        "path": account_path(account_id),
    }
    return templates.TemplateResponse(request, "account.html", context)


def _check_id(ident: str) -> None:
    problem = lookup.query_problem(ident)
    if problem is not None:
        raise BadRequest(problem)
