"""The transaction content hash: the same for a redelivery, different for any changed field,
and computable from a stored ``transactions`` row (issue 18, item 8)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger_sink.testing import transaction
from schemas.codec import decode_transaction, encode_transaction
from schemas.fingerprint import CANONICAL_FIELDS, canonical_fingerprint, transaction_fingerprint
from schemas.records import Channel, Transaction


def sample() -> Transaction:
    at = datetime(2026, 12, 1, 9, 30, 0, 123000, tzinfo=UTC)
    return replace(transaction("acct-1", "25.5", at=at), lat=48.8566, lon=2.3522, ip="10.0.0.1")


def test_what_a_retry_or_the_wire_changes_leaves_the_hash_alone() -> None:
    tx = sample()
    retried = replace(tx, ingested_at=tx.timestamp + timedelta(seconds=3), idempotency_key="k2")
    assert transaction_fingerprint(retried) == transaction_fingerprint(tx)
    assert transaction_fingerprint(decode_transaction(encode_transaction(tx))) == (
        transaction_fingerprint(tx)
    )
    assert transaction_fingerprint(replace(tx, amount=Decimal("25.5000"))) == (
        transaction_fingerprint(tx)
    )
    other_zone = tx.timestamp.astimezone(ZoneInfo("Asia/Kolkata"))
    assert transaction_fingerprint(replace(tx, timestamp=other_zone)) == transaction_fingerprint(tx)


@pytest.mark.parametrize(
    "change",
    [
        {"account_id": "acct-2"},
        {"amount": Decimal("25.51")},
        {"currency": "USD"},
        {"card_token": "tok_other"},
        {"merchant_id": "m-2"},
        {"channel": Channel.ECOM},
        {"city": None},
        {"lat": 48.8567},
        {"timestamp": datetime(2026, 12, 1, 9, 30, 1, tzinfo=UTC)},
    ],
)
def test_any_changed_field_changes_the_hash(change: dict[str, object]) -> None:
    tx = sample()
    assert transaction_fingerprint(replace(tx, **change)) != transaction_fingerprint(tx)  # type: ignore[arg-type]


def test_a_stored_row_in_canonical_order_gives_the_same_hash() -> None:
    tx = sample()
    row = [getattr(tx, name) for name in CANONICAL_FIELDS]
    row[CANONICAL_FIELDS.index("channel")] = str(tx.channel)  # text columns hold the values
    row[CANONICAL_FIELDS.index("type")] = str(tx.type)
    row[CANONICAL_FIELDS.index("amount")] = Decimal("25.5000")
    assert canonical_fingerprint(row) == transaction_fingerprint(tx)
    with pytest.raises(ValueError, match="expected"):
        canonical_fingerprint(row[:-1])
