"""Finding a transaction or an account by id, and what the transaction page adds to the
read side's transaction and decision: its ledger entries and its label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from psycopg import AsyncConnection
from psycopg.rows import class_row

from schemas.pan import contains_pan
from schemas.validation import external_id_problem


class Found(StrEnum):
    NOTHING = "nothing"
    TRANSACTION = "transaction"
    ACCOUNT = "account"
    BOTH = "both"


def query_problem(text: str) -> str | None:
    """Why `text` cannot be an id to search for (the ledger's own id rule), or None."""
    if contains_pan(text):
        return "that looks like a card number: card numbers are never stored; search by id"
    problem = external_id_problem(text)
    return None if problem is None else f"an id {problem}"


def found(transaction: bool, account: bool) -> Found:
    if transaction and account:
        return Found.BOTH
    if transaction:
        return Found.TRANSACTION
    return Found.ACCOUNT if account else Found.NOTHING


async def find(conn: AsyncConnection, ident: str) -> Found:
    """Whether `ident` names a recorded transaction, an account, both, or nothing (exact)."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM transactions WHERE transaction_id = %s),"
        " EXISTS (SELECT 1 FROM accounts WHERE account_id = %s)",
        (ident, ident),
    )
    row = await cursor.fetchone()
    return found(bool(row and row[0]), bool(row and row[1]))


async def account_exists(conn: AsyncConnection, account_id: str) -> bool:
    return await find(conn, account_id) in (Found.ACCOUNT, Found.BOTH)


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One ledger entry of a transaction (a decision's, and later a review resolution's)."""

    entry_id: int
    account_id: str
    seq: int
    outcome: str
    amount: Decimal
    currency: str
    direction: str
    balance_after: Decimal
    created_at: datetime
    entry_hash: str


async def ledger_entries(conn: AsyncConnection, transaction_id: str) -> list[EntryLine]:
    """Every ledger entry written for the transaction, oldest first (there may be several)."""
    async with conn.cursor(row_factory=class_row(EntryLine)) as cur:
        await cur.execute(
            "SELECT entry_id, account_id, seq, outcome::text, amount, currency, direction,"
            " balance_after, created_at, encode(entry_hash, 'hex') AS entry_hash"
            " FROM ledger_entries WHERE transaction_id = %s ORDER BY entry_id",
            (transaction_id,),
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Label:
    is_fraud: bool
    scenario: str | None
    labelled_at: datetime


async def label(conn: AsyncConnection, transaction_id: str) -> Label | None:
    """The transaction's latest verdict (fraud or genuine), if one was recorded."""
    async with conn.cursor(row_factory=class_row(Label)) as cur:
        await cur.execute(
            "SELECT is_fraud, scenario, labelled_at FROM labels WHERE transaction_id = %s",
            (transaction_id,),
        )
        return await cur.fetchone()
