"""Money movement per outcome and the planning of chained entries, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger_sink.errors import BalanceOutOfRange, CurrencyMismatch
from ledger_sink.hashchain import verify_chain
from ledger_sink.ledger import (
    BALANCE_LIMIT,
    ChainHead,
    first_currencies,
    next_entry,
    plan_entries,
)
from ledger_sink.sink import rejection
from ledger_sink.testing import decision, transaction
from schemas.records import Outcome, TxType

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("outcome", "tx_type", "amount", "direction", "balance_after"),
    [
        (Outcome.APPROVE, TxType.DEBIT, "12.34", "debit", "87.66"),
        (Outcome.APPROVE, TxType.CREDIT, "12.34", "credit", "112.34"),
        (Outcome.APPROVE, TxType.REFUND, "12.34", "credit", "112.34"),
        (Outcome.REVIEW, TxType.DEBIT, "0", "debit", "100"),
        (Outcome.DECLINE, TxType.DEBIT, "0", "debit", "100"),
        (Outcome.DECLINE, TxType.REFUND, "0", "credit", "100"),
    ],
)
def test_only_approvals_move_money(
    outcome: Outcome, tx_type: TxType, amount: str, direction: str, balance_after: str
) -> None:
    head = ChainHead("acct", "EUR", Decimal("100.0000"), seq=4, entry_hash=b"\x01" * 32)
    tx = transaction("acct", "12.34", tx_type=tx_type)
    entry = next_entry(head, decision(tx, outcome), NOW)
    assert (entry.amount, entry.direction) == (Decimal(amount), direction)
    assert entry.balance_after == Decimal(balance_after)
    assert entry.balance_after.as_tuple().exponent == -4  # what numeric(_, 4) stores
    assert (entry.seq, entry.prev_hash, entry.outcome) == (5, b"\x01" * 32, str(outcome))


def test_decimal_arithmetic_is_exact_over_many_entries() -> None:
    tenth = decision(transaction("acct", "0.10", tx_type=TxType.CREDIT))
    head = ChainHead("acct", "EUR")
    entries, heads = plan_entries([tenth] * 1000, {"acct": head}, NOW)
    assert heads["acct"].balance == Decimal("100.0000")  # a float sum would drift
    assert [e.seq for e in entries] == list(range(1, 1001))


def test_a_planned_batch_chains_per_account_and_verifies() -> None:
    batch = [
        decision(transaction(account, f"{n}.50"), outcome)
        for n, (account, outcome) in enumerate(
            [
                ("a", Outcome.APPROVE),
                ("b", Outcome.DECLINE),
                ("a", Outcome.REVIEW),
                ("b", Outcome.APPROVE),
                ("a", Outcome.APPROVE),
            ]
        )
    ]
    heads = {a: ChainHead(a, "EUR") for a in "ab"}
    entries, moved = plan_entries(batch, heads, NOW)
    assert [(e.account_id, e.seq) for e in entries] == [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("b", 2),
        ("a", 3),
    ]
    assert entries[0].prev_hash is None and entries[2].prev_hash == entries[0].entry_hash
    assert verify_chain(entries) is None
    assert moved["a"].balance == Decimal("-5.0000")  # 0.50 + 4.50 approved, 2.50 reviewed
    assert moved["b"].balance == Decimal("-3.5000")
    assert (moved["a"].seq, moved["a"].entry_hash) == (3, entries[4].entry_hash)


def test_a_later_batch_continues_from_the_head() -> None:
    first, heads = plan_entries(
        [decision(transaction("a", "1"))], {"a": ChainHead("a", "EUR")}, NOW
    )
    second, _ = plan_entries([decision(transaction("a", "2"))], heads, NOW)
    assert verify_chain(first + second) is None


def test_an_approval_in_another_currency_is_refused_other_outcomes_are_not() -> None:
    head = ChainHead("a", "EUR")
    usd = transaction("a", "5.00", currency="USD")
    with pytest.raises(CurrencyMismatch, match="approved USD .* whose ledger is in EUR"):
        next_entry(head, decision(usd), NOW)
    declined = next_entry(head, decision(usd, Outcome.DECLINE), NOW)
    assert (declined.currency, declined.amount) == ("EUR", Decimal("0.0000"))


def test_a_new_account_takes_its_first_transaction_s_currency() -> None:
    batch = [
        decision(transaction("a", "1", currency="INR")),
        decision(transaction("b", "1")),
        decision(transaction("a", "1", currency="USD"), Outcome.DECLINE),
    ]
    assert first_currencies(batch) == {"a": "INR", "b": "EUR"}


MAXIMAL_EUR = "99999999999999.99"  # 14 integer digits: the largest amount validation accepts
# The largest balance numeric(38, 4) holds (a literal, negated by copy_negate: arithmetic,
# abs() and unary minus round to the default 28-digit context, the very trap under test).
LARGEST = Decimal("9" * 34 + ".9999")


def test_balances_past_python_s_default_28_digits_stay_exact() -> None:
    # Decimal's default context rounded this sum to 28 digits and quantize then raised
    # InvalidOperation, which would have stopped the sink instead of booking the credit.
    head = ChainHead("acct", "EUR", Decimal("999999999999999999999999999999.0000"), seq=7)
    credit = decision(transaction("acct", MAXIMAL_EUR, tx_type=TxType.CREDIT))
    entry = next_entry(head, credit, NOW)
    assert entry.balance_after == Decimal("1000000000000000099999999999998.9900")
    assert entry.balance_after.as_tuple().exponent == -4
    assert entry.entry_hash is not None  # sealed: the hash chain encodes such a balance


@pytest.mark.parametrize(
    ("start", "tx_type"),
    [
        (LARGEST, TxType.CREDIT),
        (LARGEST.copy_negate(), TxType.DEBIT),
    ],
)
def test_a_balance_past_numeric_38_4_is_refused_as_a_dead_letter(
    start: Decimal, tx_type: TxType
) -> None:
    assert -BALANCE_LIMIT < start < BALANCE_LIMIT
    head = ChainHead("acct", "EUR", start, seq=3)
    approved = decision(transaction("acct", "0.01", tx_type=tx_type))
    with pytest.raises(BalanceOutOfRange) as refused:
        next_entry(head, approved, NOW)
    code, message = rejection(refused.value) or ("", "")
    assert code == "balance_out_of_range"
    assert approved.transaction_id in message and "acct" in message
    # A decline moves nothing, so it is still booked at the edge of the range.
    declined = next_entry(head, decision(approved.transaction, Outcome.DECLINE), NOW)
    assert declined.balance_after == start
