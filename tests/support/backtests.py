"""A backtest's history on a test module's own topics and database: ten transactions on
its transactions topic, decided in its ledger by the real ledger writer, four labelled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ledger_sink.testing import decision, transaction
from schemas import kafka_edge
from schemas.codec import encode_label, encode_transaction
from schemas.connections import KafkaConnection
from schemas.records import Label, Outcome, Transaction
from schemas.topics import LABELS, TRANSACTIONS
from tests.support.console import write_ledger

# amount 10 * (i + 1): i = 5..9 are over 50. Live outcomes as the ledger records them.
LIVE = ["APPROVE", "APPROVE", "APPROVE", "REVIEW", "APPROVE",
        "APPROVE", "APPROVE", "REVIEW", "DECLINE", "DECLINE"]  # fmt: skip
FRAUD, GENUINE = {3, 6, 9}, {0}


def produce(topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """``records`` (key, value) on ``topic``, each on its key's partition as the contract
    says (the edge's producer: Java's murmur2), so replay decides them where they are."""
    producer = kafka_edge.producer(KafkaConnection())
    for key, value in records:
        producer.produce(topic, value, key)
    assert producer.flush(30) == 0


def history(prefix: str, dsn: str) -> list[Transaction]:
    """Ten transactions produced now, decided in the ledger as ``LIVE`` says, those of
    ``FRAUD`` labelled fraud and those of ``GENUINE`` genuine on the labels topic."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    account = f"acct-{uuid.uuid4().hex[:8]}"
    txs = [
        transaction(account, Decimal(10 * (i + 1)), at=at + timedelta(seconds=i)) for i in range(10)
    ]
    records = [(account.encode(), encode_transaction(t)) for t in txs]
    produce(f"{prefix}{TRANSACTIONS.name}", records)
    write_ledger(dsn, [decision(t, Outcome(o)) for t, o in zip(txs, LIVE, strict=True)])
    labels = [
        Label(
            transaction_id=t.transaction_id,
            account_id=account,
            merchant_id=t.merchant_id,
            is_fraud=i in FRAUD,
            labelled_at=datetime.now(UTC),
            transaction_timestamp=t.timestamp,
        )  # fmt: skip
        for i, t in enumerate(txs)
        if i in FRAUD | GENUINE
    ]
    produce(f"{prefix}{LABELS.name}", [(account.encode(), encode_label(lab)) for lab in labels])
    return txs
