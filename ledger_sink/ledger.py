"""Which decisions move money, and the ledger entries a batch appends: pure, no I/O.

Money movement (the sink's policy; the ledger_entries table comment says the same):

- APPROVE moves money: an approved debit reduces the balance, an approved credit or refund
  raises it, by the transaction's amount.
- REVIEW and DECLINE move nothing, but are still recorded: every decided transaction gets
  exactly one ledger entry, with ``amount`` 0 and the balance carried over. ``amount`` is
  therefore always the money that moved, so each entry satisfies
  ``balance_after = previous balance_after ± amount`` (``sentinel ledger verify`` checks it);
  what was asked for stays in ``transactions``.
- An account's ledger has one currency, set by its first decided transaction. There is no
  FX here: an APPROVE in another currency is refused (``CurrencyMismatch``, dead-lettered);
  a REVIEW or DECLINE in another currency moves nothing and is recorded in the ledger's.
- ``direction`` is the transaction's: ``debit`` for a debit, ``credit`` for a credit or refund.
- A balance lives in ``numeric(38, 4)`` (34 integer digits, 10**20 credits of the largest
  amount): an entry that would take it out of that range is refused (``BalanceOutOfRange``,
  dead-lettered) rather than overflowing the column. The arithmetic is exact over that range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from ledger_sink.errors import BalanceOutOfRange, CurrencyMismatch
from ledger_sink.hashchain import RESOLUTION_HASH_VERSION, RESOLUTION_KIND, LedgerEntry, seal
from schemas.records import Decision, Outcome, TxType

ZERO = Decimal("0.0000")
_SCALE = Decimal("0.0001")
MOVING_OUTCOMES = frozenset({Outcome.APPROVE})
# balances.balance and ledger_entries.balance_after are numeric(38, 4) (migration 20261205_0200).
BALANCE_LIMIT = Decimal(10) ** (38 - 4)
# Python's default context keeps 28 digits: past 10**24 a sum would be rounded and quantize
# would raise, stopping the sink. Two digits more than the column keep any sum of an in-range
# balance and an amount exact, so one just past the limit is reported as such.
_MONEY = Context(prec=40, traps=[InvalidOperation])


@dataclass(frozen=True, slots=True)
class ChainHead:
    """An account's ledger as the next entry continues it (seq 0: no entry yet)."""

    account_id: str
    currency: str
    balance: Decimal = ZERO
    seq: int = 0
    entry_hash: bytes | None = None


def direction(tx_type: TxType) -> str:
    return "debit" if tx_type is TxType.DEBIT else "credit"


def moves_money(decision: Decision) -> bool:
    return decision.outcome in MOVING_OUTCOMES


def signed(amount: Decimal, entry_direction: str) -> Decimal:
    """The balance change an entry of `amount` in `entry_direction` makes."""
    return -amount if entry_direction == "debit" else amount


def balance_after(balance: Decimal, amount: Decimal, entry_direction: str) -> Decimal:
    """`balance` moved by an entry of `amount` in `entry_direction`, exactly, at scale 4."""
    return _MONEY.quantize(_MONEY.add(balance, signed(amount, entry_direction)), _SCALE)


def in_range(balance: Decimal) -> bool:
    """Whether `balance` fits the balance columns, numeric(38, 4)."""
    # Comparisons are exact; abs() and unary minus round to the default context's 28 digits.
    return -BALANCE_LIMIT < balance < BALANCE_LIMIT


@dataclass(frozen=True, slots=True)
class Source:
    """What the ledger entry of a transaction must agree with: the transaction and decision
    rows it was written from (None where the row is missing)."""

    amount: Decimal | None
    currency: str | None
    tx_type: str | None
    outcome: str | None


def source_mismatch(entry: LedgerEntry, source: Source) -> str | None:
    """Why `entry` disagrees with its source transaction and decision, or None."""
    if source.amount is None or source.tx_type is None:
        return f"its transaction {entry.transaction_id} is missing"
    if source.outcome != entry.outcome:
        return f"outcome {entry.outcome} where its decision says {source.outcome}"
    moving = entry.outcome in MOVING_OUTCOMES
    expected = source.amount.quantize(_SCALE) if moving else ZERO
    if entry.amount != expected:
        return (
            f"amount {entry.amount} where transaction {entry.transaction_id} "
            f"({source.amount}, {entry.outcome}) gives {expected}"
        )
    if entry.direction != direction(TxType(source.tx_type)):
        return f"direction {entry.direction} for a {source.tx_type} transaction"
    if moving and (source.currency or "").strip() != entry.currency.strip():
        return f"currency {entry.currency} where the transaction is in {source.currency}"
    return None


def next_entry(head: ChainHead, decision: Decision, now: datetime) -> LedgerEntry:
    """The sealed entry that records `decision` after `head`."""
    tx = decision.transaction
    return _sealed(
        head,
        Movement(tx.transaction_id, tx.amount, tx.currency, tx.type, moves_money(decision)),
        now,
        decision_id=decision.decision_id,
        outcome=str(decision.outcome),
    )


@dataclass(frozen=True, slots=True)
class Movement:
    """What an entry may move: its transaction's amount, currency and type, and whether the
    verdict it records moves money at all."""

    transaction_id: str
    amount: Decimal
    currency: str
    tx_type: TxType
    moving: bool


def resolution_entry(
    head: ChainHead, movement: Movement, decision_id: str, resolution_id: str, now: datetime
) -> LedgerEntry:
    """The sealed entry an approved review appends after `head`: it moves the amount the
    REVIEW decision's own (zero) entry held back (kind ``resolution``, encoding 2)."""
    return _sealed(
        head,
        movement,
        now,
        decision_id=decision_id,
        outcome=str(Outcome.APPROVE),
        hash_version=RESOLUTION_HASH_VERSION,
        kind=RESOLUTION_KIND,
        resolution_id=resolution_id,
    )


def _sealed(head: ChainHead, movement: Movement, now: datetime, **identity: Any) -> LedgerEntry:
    if movement.moving and movement.currency != head.currency:
        raise CurrencyMismatch(
            f"approved {movement.currency} transaction {movement.transaction_id} on account "
            f"{head.account_id}, whose ledger is in {head.currency}"
        )
    entry_direction = direction(movement.tx_type)
    amount = movement.amount.quantize(_SCALE) if movement.moving else ZERO
    after = balance_after(head.balance, amount, entry_direction)
    if not in_range(after):
        raise BalanceOutOfRange(
            f"{entry_direction} of {amount} by transaction {movement.transaction_id} would "
            f"take the balance of account {head.account_id} to {after}, past what a balance "
            "holds"
        )
    content = LedgerEntry(
        account_id=head.account_id,
        seq=head.seq + 1,
        transaction_id=movement.transaction_id,
        amount=amount,
        currency=head.currency,
        direction=entry_direction,
        balance_after=after,
        created_at=now,
        **identity,
    )
    return seal(content, head.entry_hash)


def advance(head: ChainHead, entry: LedgerEntry) -> ChainHead:
    return replace(head, balance=entry.balance_after, seq=entry.seq, entry_hash=entry.entry_hash)


def plan_entries(
    decisions: Iterable[Decision], heads: Mapping[str, ChainHead], now: datetime
) -> tuple[list[LedgerEntry], dict[str, ChainHead]]:
    """One entry per decision, in order, and each touched account's new head.

    `heads` must hold every account of `decisions`; entries of one account chain one after
    another in the order given (Kafka's order within the account's partition).
    """
    current = dict(heads)
    entries: list[LedgerEntry] = []
    for decision in decisions:
        entry = next_entry(current[decision.account_id], decision, now)
        current[decision.account_id] = advance(current[decision.account_id], entry)
        entries.append(entry)
    touched = {entry.account_id for entry in entries}
    return entries, {account: head for account, head in current.items() if account in touched}


def first_currencies(decisions: Iterable[Decision]) -> dict[str, str]:
    """Each account's first currency in `decisions`: the ledger currency of a new account."""
    found: dict[str, str] = {}
    for decision in decisions:
        found.setdefault(decision.account_id, decision.transaction.currency)
    return found
