"""`sentinel ledger verify`'s check: every account's chain, streamed, then each chain's tail.

Three things must hold, and the first that does not is reported:

1. each chain links (``hashchain.verify_chain``: seq from 1 without gaps, prev_hash, and the
   entry_hash recomputed over the canonical encoding);
2. each entry's arithmetic: ``balance_after`` is the previous one (0 before seq 1) plus or
   minus ``amount`` (see ``ledger_sink.ledger``);
3. each entry agrees with the rows it was written from (``ledger.source_mismatch``): its
   transaction's amount (0 for an outcome that moves no money), type and currency, and its
   decision's outcome, so an entry forged and re-hashed consistently still stands out;
4. with signed heads (``ledger_sink.heads``, read from the heads topic by the CLI), each
   signature holds under the operator's key and each chain passes through its signed head:
   same entry id, same hash. A tail re-sealed inside the database after the head was signed
   fails here, because the forger cannot sign the new hash;
5. each balance row points at its chain's last entry and holds its ``balance_after``, which
   is how a removed tail shows (a chain alone cannot tell it lost its last entries), and is
   thereby recomputed from the ledger.

It reads one REPEATABLE READ snapshot, so a sink writing meanwhile raises no false alarm,
through a server-side cursor: memory grows with the number of accounts, not of entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
from psycopg.rows import RowMaker

from ledger_sink.hashchain import ENTRY_FIELDS, LedgerEntry, verify_chain
from ledger_sink.heads import SignedHead, head_mismatch, signature_error
from ledger_sink.ledger import ZERO, Source, balance_after, source_mismatch

_FIELDS = ENTRY_FIELDS
# Each entry beside its source rows (LEFT JOIN: a missing one is reported, not skipped). A
# resolution entry's outcome is its resolution's verdict, not its REVIEW decision's outcome.
WALK = f"""
SELECT {", ".join("e." + name for name in _FIELDS)},
       t.amount, t.currency, t.type,
       CASE WHEN e.kind = 'resolution' THEN r.verdict ELSE d.outcome END, e.entry_id
FROM ledger_entries e
LEFT JOIN transactions t ON t.transaction_id = e.transaction_id
LEFT JOIN decisions d ON d.decision_id = e.decision_id
LEFT JOIN review_resolutions r ON r.resolution_id = e.resolution_id
ORDER BY e.account_id, e.seq
"""  # noqa: S608
_Row = tuple[LedgerEntry, Source, int]

# Each account's last entry beside its balance row; only the rows that disagree.
TAILS = """
WITH tails AS (
    SELECT DISTINCT ON (account_id) account_id, entry_id, seq, balance_after
    FROM ledger_entries ORDER BY account_id, seq DESC
)
SELECT coalesce(b.account_id, t.account_id), coalesce(t.seq, 0), b.last_entry_id, t.entry_id,
       b.balance, t.balance_after
FROM balances b FULL JOIN tails t ON t.account_id = b.account_id
WHERE b.account_id IS NULL
   OR b.last_entry_id IS DISTINCT FROM t.entry_id
   OR b.balance <> coalesce(t.balance_after, 0)
ORDER BY 1
LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Break:
    """The first link that does not hold: whose, which entry, and why."""

    account_id: str
    seq: int
    reason: str


@dataclass(slots=True)
class Report:
    accounts: int = 0
    entries: int = 0
    broken: Break | None = None
    # How many accounts' signed heads were checked; None: no signing key, none checked.
    signed_heads: int | None = None


@dataclass(slots=True)
class _Walk:
    """Counts entries and accounts as they stream by, and checks each entry's arithmetic."""

    report: Report
    on_progress: Callable[[int], None] | None = None
    heads: Mapping[str, SignedHead] = field(default_factory=dict)
    arithmetic: Break | None = field(default=None)
    reached: set[str] = field(default_factory=set)
    _last: tuple[str, Decimal] | None = None

    def entries(self, rows: Iterable[_Row]) -> Iterator[LedgerEntry]:
        for entry, source, entry_id in rows:
            self._count(entry)
            yield entry  # verify_chain sees it first: a hash break at this entry wins
            self.arithmetic = self._content_break(entry, source) or self._head_break(
                entry, entry_id
            )
            if self.arithmetic is not None:
                return
            self._last = (entry.account_id, entry.balance_after)

    def _head_break(self, entry: LedgerEntry, entry_id: int) -> Break | None:
        anchor = self.heads.get(entry.account_id)
        if anchor is None or anchor.head.seq != entry.seq:
            return None
        self.reached.add(entry.account_id)
        mismatch = head_mismatch(anchor.head, entry, entry_id)
        return None if mismatch is None else Break(entry.account_id, entry.seq, mismatch)

    def unreached(self) -> Break | None:
        """A signed head whose chain ended before it: entries removed since it was signed."""
        for account, anchor in sorted(self.heads.items()):
            if account not in self.reached:
                return Break(
                    account, anchor.head.seq, "the chain ends before its signed head: removed"
                )
        return None

    def _content_break(self, entry: LedgerEntry, source: Source) -> Break | None:
        """The entry's arithmetic, then its agreement with its source rows."""
        expected = self._expected_balance(entry)
        if entry.balance_after != expected:
            return Break(
                entry.account_id,
                entry.seq,
                f"balance_after {entry.balance_after} where the previous balance and "
                f"{entry.direction} of {entry.amount} give {expected}",
            )
        mismatch = source_mismatch(entry, source)
        return None if mismatch is None else Break(entry.account_id, entry.seq, mismatch)

    def _count(self, entry: LedgerEntry) -> None:
        if self._last is None or self._last[0] != entry.account_id:
            self.report.accounts += 1
        self.report.entries += 1
        if self.on_progress is not None and self.report.entries % 10_000 == 0:
            self.on_progress(self.report.entries)

    def _expected_balance(self, entry: LedgerEntry) -> Decimal:
        same = self._last is not None and self._last[0] == entry.account_id
        previous = self._last[1] if same and self._last is not None else ZERO
        return balance_after(previous, entry.amount, entry.direction)


def signature_break(heads: Mapping[str, SignedHead], key: bytes) -> Break | None:
    """The first signed head (by account) whose signature does not hold under `key`."""
    for account, anchor in sorted(heads.items()):
        reason = signature_error(anchor, key)
        if reason is not None:
            return Break(account, anchor.head.seq, f"the signed head is refused: {reason}")
    return None


def verify_ledger(
    conn: psycopg.Connection,
    on_progress: Callable[[int], None] | None = None,
    signed_heads: tuple[Mapping[str, SignedHead], bytes] | None = None,
) -> Report:
    """Walk every chain in `conn`'s database; the report names the first break, if any.

    `signed_heads`: the newest signed head per account and the key they must be signed with.
    `conn` must be idle (autocommit, or not inside a transaction).
    """
    report = Report()
    heads: Mapping[str, SignedHead] = {}
    if signed_heads is not None:
        heads, key = signed_heads
        report.signed_heads = len(heads)
        report.broken = signature_break(heads, key)
        if report.broken is not None:
            return report
    with (
        conn.transaction(),
        conn.cursor(name="ledger_verify", row_factory=_entry_and_source) as cursor,
    ):
        # First statement of the transaction: `conn` must not be inside one already.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.itersize = 5_000
        cursor.execute(WALK)
        walk = _Walk(report, on_progress, heads)
        link = verify_chain(walk.entries(cursor))
        if link is not None:
            report.broken = Break(link.account_id, link.seq, link.reason)
        else:
            report.broken = walk.arithmetic or _tail_break(conn) or walk.unreached()
    return report


def _entry_and_source(_cursor: psycopg.Cursor[_Row]) -> RowMaker[_Row]:
    """Rows of WALK as (the entry, its source rows, its entry_id)."""
    width = len(_FIELDS)

    def make(values: Sequence[object]) -> _Row:
        entry = LedgerEntry(**dict(zip(_FIELDS, values[:width], strict=True)))  # type: ignore[arg-type]
        amount, currency, tx_type, outcome, entry_id = values[width:]
        return entry, Source(amount, currency, tx_type, outcome), int(entry_id)  # type: ignore[arg-type, call-overload]

    return make


def _tail_break(conn: psycopg.Connection) -> Break | None:
    row = conn.execute(TAILS).fetchone()
    if row is None:
        return None
    account_id, seq, pointed, last, balance, balance_after = row
    if balance is None:
        return Break(account_id, seq, "the account has ledger entries but no balance row")
    if last is None or pointed != last:
        return Break(
            account_id,
            seq + 1,
            f"the balance points at entry {pointed}, but the chain ends at seq {seq}"
            f" (entry {last}): its tail is missing",
        )
    return Break(
        account_id, seq, f"the balance is {balance}, the last entry's balance_after {balance_after}"
    )
