"""Dead letters written straight onto a test's own dead-letter topic, for the console's pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from confluent_kafka import Producer

from dlq.letters import LetterId
from schemas.codec import encode_dead_letter, encode_transaction
from schemas.connections import KafkaConnection
from schemas.enums import Channel, TxType
from schemas.records import DeadLetter, Transaction

PAN = "4111111111111111"
SOURCE_PARTITION = 3


def transaction(card_token: str = "tok_abcdefgh") -> Transaction:  # noqa: S107 - a token
    return Transaction(
        transaction_id=str(uuid.uuid4()),
        account_id=f"acct-{uuid.uuid4().hex[:6]}",
        card_token=card_token,
        amount=Decimal("12.50"),
        currency="INR",
        merchant_id="m-1",
        country="IN",
        channel=Channel.POS,
        timestamp=datetime.now(UTC).replace(microsecond=0),
        type=TxType.DEBIT,
    )


def write_letters(
    prefix: str, codes: list[str], pan: bool = False
) -> list[tuple[LetterId, Transaction]]:
    """One dead letter per code on partition 0 of ``<prefix>dead-letter``, each holding a
    transaction from ``<prefix>transactions``; with ``pan``, the first one's message holds a
    card number (which the codec masks, marking the letter never to be re-driven)."""
    producer = Producer({"bootstrap.servers": KafkaConnection().bootstrap_servers})
    now = datetime.now(UTC).replace(microsecond=0)
    written: list[tuple[LetterId, Transaction]] = []
    offsets: list[int] = []

    def delivered(error: object, message: object) -> None:
        assert error is None, error
        offsets.append(message.offset())  # type: ignore[attr-defined]

    for n, code in enumerate(codes):
        tx = transaction()
        letter = DeadLetter(
            source_topic=f"{prefix}transactions",
            partition=SOURCE_PARTITION,
            offset=100 + n,
            key=tx.account_id.encode(),
            value=encode_transaction(tx),
            error_code=code,
            error_message=f"could not handle card {PAN}" if pan and n == 0 else "schema id unknown",
            failed_at=now - timedelta(minutes=len(codes) - n),
            headers={"transaction-id": tx.transaction_id},
        )
        producer.produce(
            f"{prefix}dead-letter",
            encode_dead_letter(letter),
            letter.key,
            partition=0,
            on_delivery=delivered,
        )
        assert producer.flush(30) == 0
        written.append((LetterId(0, offsets[-1]), tx))
    return written


def write_webhook_letter(prefix: str, subscription_id: str, error: str) -> None:
    """A delivery to ``subscription_id`` dead-lettered as the dispatcher does it."""
    letter = DeadLetter(
        source_topic=f"{prefix}webhooks",
        partition=0,
        offset=7,
        key=b"acct-1",
        value=b"{}",
        error_code="webhook_retries_exhausted",
        error_message=error,
        failed_at=datetime.now(UTC),
        headers={"sentinel-subscription-id": subscription_id, "sentinel-attempts": "8"},
    )
    producer = Producer({"bootstrap.servers": KafkaConnection().bootstrap_servers})
    producer.produce(f"{prefix}webhooks.dead-letter", encode_dead_letter(letter), letter.key)
    assert producer.flush(30) == 0
