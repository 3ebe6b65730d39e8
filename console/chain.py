"""The state of one account's hash chain, for its page: the newest entries verified with
``ledger_sink.hashchain.verify_chain`` (bounded), and the balance row's pointer to the tail.

A page view must cost the same for any account, so a chain longer than the bound is
verified over its last ``limit`` entries only, from the entry before them (read, not
verified); the page says so. ``sentinel ledger verify`` checks every chain from seq 1,
with each entry's arithmetic and source rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import AsyncConnection

from ledger_sink.hashchain import ENTRY_FIELDS, BrokenLink, LedgerEntry, verify_chain

# The newest entries of an account, newest first: the (account_id, seq) unique index.
TAIL = (
    f"SELECT entry_id, {', '.join(ENTRY_FIELDS)} FROM ledger_entries"  # noqa: S608
    " WHERE account_id = %s ORDER BY seq DESC LIMIT %s"
)
POINTER = "SELECT last_entry_id FROM balances WHERE account_id = %s"


@dataclass(frozen=True, slots=True)
class Stored:
    """A ledger entry as read, with its row id."""

    entry_id: int
    entry: LedgerEntry


@dataclass(frozen=True, slots=True)
class ChainState:
    length: int  # the newest entry's seq: the chain's length when it holds
    checked: int  # how many of the newest entries were verified
    broken: BrokenLink | None
    last_entry_id: int | None  # the newest entry's row id
    balance_points_at: int | None  # balances.last_entry_id

    @property
    def whole(self) -> bool:
        """Whether every entry was verified (not only the newest ones)."""
        return self.checked == self.length

    @property
    def pointer_matches(self) -> bool:
        return self.last_entry_id == self.balance_points_at

    @property
    def ok(self) -> bool:
        return self.broken is None and self.pointer_matches


def assess(tail: Sequence[Stored], limit: int, balance_points_at: int | None) -> ChainState:
    """Verify `tail` (oldest first, at most ``limit + 1`` entries of one account).

    With more than `limit` entries, the oldest is the anchor: read, not verified, the next
    one must link to its entry_hash. Otherwise `tail` is the whole chain, from seq 1.
    """
    if not tail:
        return ChainState(0, 0, None, None, balance_points_at)
    checked, resume = list(tail), None
    if len(tail) > limit:
        anchor, checked = tail[0].entry, list(tail[1:])
        if anchor.entry_hash is not None:
            resume = {anchor.account_id: (anchor.seq, anchor.entry_hash)}
    broken = verify_chain((stored.entry for stored in checked), resume_from=resume)
    newest = tail[-1]
    return ChainState(newest.entry.seq, len(checked), broken, newest.entry_id, balance_points_at)


async def chain_state(conn: AsyncConnection, account_id: str, limit: int) -> ChainState:
    """The account's chain state, read in one snapshot (a sink writing meanwhile moves the
    balance pointer and the tail together)."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        pointer = await (await conn.execute(POINTER, (account_id,))).fetchone()
        cursor = await conn.execute(TAIL, (account_id, limit + 1))
        rows = await cursor.fetchall()
    tail = [_stored(row) for row in reversed(rows)]
    return assess(tail, limit, pointer[0] if pointer else None)


def _stored(row: Sequence[object]) -> Stored:
    entry = LedgerEntry(**dict(zip(ENTRY_FIELDS, row[1:], strict=True)))  # type: ignore[arg-type]
    return Stored(int(row[0]), entry)  # type: ignore[call-overload]
