"""`source_mismatch`: a ledger entry against the transaction and decision it was written from."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger_sink.ledger import ChainHead, Source, next_entry, source_mismatch
from ledger_sink.testing import decision, transaction
from schemas.records import Outcome, TxType

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def entry_and_source(outcome: Outcome = Outcome.APPROVE, tx_type: TxType = TxType.DEBIT):  # type: ignore[no-untyped-def]
    d = decision(transaction("acct-1", "12.50", tx_type=tx_type), outcome)
    entry = next_entry(ChainHead("acct-1", "EUR"), d, NOW)
    return entry, Source(Decimal("12.5000"), "EUR", str(tx_type), str(outcome))


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("tx_type", list(TxType))
def test_what_the_sink_writes_agrees_with_its_source(outcome: Outcome, tx_type: TxType) -> None:
    entry, source = entry_and_source(outcome, tx_type)
    assert source_mismatch(entry, source) is None


def test_an_approved_amount_other_than_the_transactions_is_named() -> None:
    entry, source = entry_and_source()
    reason = source_mismatch(replace(entry, amount=Decimal("1.0000")), source)
    assert reason is not None and "amount 1.0000 where transaction" in reason


def test_a_decline_that_moved_money_is_named() -> None:
    entry, source = entry_and_source(Outcome.DECLINE)
    reason = source_mismatch(replace(entry, amount=Decimal("12.5000")), source)
    assert reason is not None and "gives 0.0000" in reason


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"outcome": "DECLINE"}, "its decision says APPROVE"),
        ({"direction": "credit"}, "direction credit for a debit"),
        ({"currency": "USD"}, "currency USD where the transaction is in EUR"),
    ],
)
def test_every_sourced_field_is_compared(change: dict[str, str], needle: str) -> None:
    entry, source = entry_and_source()
    reason = source_mismatch(replace(entry, **change), source)  # type: ignore[arg-type]
    assert reason is not None and needle in reason


def test_a_missing_transaction_is_named() -> None:
    entry, _ = entry_and_source()
    reason = source_mismatch(entry, Source(None, None, None, None))
    assert reason == f"its transaction {entry.transaction_id} is missing"
