"""Writes a batch of decisions to PostgreSQL in one transaction (psycopg 3): the sink's I/O.

Per batch, in one transaction and one round trip per table: accounts, transactions,
decisions (whose RETURNING tells which are new), rule hits, then — for the new ones only —
the ledger entries (after refusing a reused transaction id with other content,
``conflicts``), chained after each account's head read under its balance row's lock,
the balances, and the star schema. A redelivered decision adds nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from ledger_sink import conflicts, rows, sql
from ledger_sink.connection import OwnConnection
from ledger_sink.hashchain import LedgerEntry
from ledger_sink.heads import Head
from ledger_sink.ledger import ChainHead, first_currencies, plan_entries
from schemas.records import Decision


@dataclass(frozen=True, slots=True)
class WriteResult:
    """How many decisions a batch added, and how many were already in the ledger."""

    written: int
    duplicates: int
    # Each account's chain head after the batch (the ledger sink's; for signing).
    heads: tuple[Head, ...] = ()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerWriter:
    """Owns one connection, reopened after a failure; not thread-safe (one per sink)."""

    def __init__(self, dsn: str, clock: Callable[[], datetime] = _utc_now) -> None:
        self._db = OwnConnection(dsn)
        self._clock = clock

    def write(self, decisions: Sequence[Decision]) -> WriteResult:
        """Write `decisions` (in stream order) atomically; raises psycopg errors as they come."""
        conflicts.refuse(conflicts.within(decisions))
        batch = rows.unique_by_transaction(decisions)
        heads: list[Head] = []
        with self._db.transaction() as conn:
            new = self._insert_operational(conn, batch) if batch else []
            if new:
                heads = self._append_ledger(conn, new)
                self._fill_star_schema(conn, new)
        return WriteResult(len(new), len(decisions) - len(new), tuple(heads))

    def close(self) -> None:
        self._db.close()

    def _insert_operational(
        self, conn: psycopg.Connection, batch: list[Decision]
    ) -> list[Decision]:
        """Accounts, transactions, decisions and rule hits; the decisions that were new."""
        by_tx = sorted(batch, key=lambda d: d.transaction_id)
        accounts = sorted({d.account_id for d in batch})
        conn.execute(sql.ACCOUNTS, [accounts])
        conn.execute(
            sql.TRANSACTIONS,
            rows.columns([rows.transaction_row(d) for d in by_tx], sql.TRANSACTIONS_WIDTH),
        )
        cursor = conn.execute(
            sql.DECISIONS,
            rows.columns([rows.decision_row(d) for d in by_tx], sql.DECISIONS_WIDTH),
        )
        inserted = {row[0] for row in cursor.fetchall()}
        new = [d for d in batch if d.transaction_id in inserted]
        repeats = sorted(d.transaction_id for d in batch if d.transaction_id not in inserted)
        if repeats:
            # Raised inside the transaction: nothing of the batch is committed.
            stored = conflicts.stored_fingerprints(conn.execute(sql.STORED_TRANSACTIONS, [repeats]))
            conflicts.refuse(conflicts.against(batch, stored))
        hits = [hit for d in new for hit in rows.rule_hit_rows(d)]
        if hits:
            conn.execute(sql.RULE_HITS, rows.columns(hits, sql.RULE_HITS_WIDTH))
        return new

    def _append_ledger(self, conn: psycopg.Connection, new: list[Decision]) -> list[Head]:
        heads = lock_heads(conn, first_currencies(new))
        entries, moved = plan_entries(new, heads, self._clock())
        return append_entries(conn, entries, moved)

    def _fill_star_schema(self, conn: psycopg.Connection, new: list[Decision]) -> None:
        conn.execute(sql.DIM_ACCOUNTS, [sorted({d.account_id for d in new})])
        conn.execute(sql.DIM_MERCHANTS, rows.columns(rows.merchant_rows(new), 3))
        conn.execute(sql.DIM_LOCATIONS, rows.columns(rows.location_rows(new), 2))
        conn.execute(sql.DIM_DATES, [sorted({rows.event_date(d) for d in new})])
        facts = sorted((rows.fact_row(d) for d in new), key=lambda row: str(row[0]))
        conn.execute(sql.FACTS, rows.columns(facts, sql.FACTS_WIDTH))


def lock_heads(conn: psycopg.Connection, currencies: dict[str, str]) -> dict[str, ChainHead]:
    """Lock the balance rows of `currencies`' accounts (seeding a new account's row with its
    currency) and read each chain's head: only the holder of the lock extends a chain."""
    ordered = sorted(currencies.items())
    accounts = [account for account, _ in ordered]
    conn.execute(sql.SEED_BALANCES, rows.columns(ordered, 2))
    conn.execute(sql.LOCK_BALANCES, [accounts])
    return {
        account: ChainHead(account, currency.strip(), balance, seq, entry_hash)
        for account, currency, balance, seq, entry_hash in conn.execute(sql.CHAIN_HEADS, [accounts])
    }


def append_entries(
    conn: psycopg.Connection, entries: list[LedgerEntry], moved: dict[str, ChainHead]
) -> list[Head]:
    """Insert sealed `entries` and move the balances to `moved` (heads locked by
    `lock_heads` in this transaction); each touched account's new head, for signing."""
    cursor = conn.execute(
        sql.LEDGER_ENTRIES,
        rows.columns([rows.entry_row(e) for e in entries], sql.LEDGER_ENTRIES_WIDTH),
    )
    last_id = _last_entry_ids(cursor.fetchall(), entries)
    accounts = sorted(moved)
    conn.execute(
        sql.UPDATE_BALANCES,
        [accounts, [moved[a].balance for a in accounts], [last_id[a] for a in accounts]],
    )
    return [Head(a, last_id[a], moved[a].seq, moved[a].entry_hash or b"") for a in accounts]


def _last_entry_ids(
    returned: list[tuple[int, str, int]], entries: list[LedgerEntry]
) -> dict[str, int]:
    """The entry_id of each account's newest entry among those just inserted."""
    newest = {entry.account_id: entry.seq for entry in entries}
    return {account: entry_id for entry_id, account, seq in returned if newest[account] == seq}
