"""The labels sink's pure parts: decoding into labels or dead letters, newest verdict wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger_sink.labels import decode, latest_per_transaction
from ledger_sink.sink import Incoming
from schemas.codec import encode_label
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter, Label

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def label(tid: str, hours: int = 0, fraud: bool = True, merchant: str = "m-1") -> Label:
    return Label(
        transaction_id=tid, account_id="acct-1", merchant_id=merchant, is_fraud=fraud,
        labelled_at=T0 + timedelta(hours=hours), transaction_timestamp=T0 - timedelta(days=1),
        scenario="compromised_terminal" if fraud else None,
    )  # fmt: skip


def raw(value: bytes | None, offset: int = 0) -> RawRecord:
    return RawRecord("labels", 2, offset, b"acct-1", value)


def test_a_label_decodes_and_anything_else_is_a_dead_letter_with_its_bytes() -> None:
    ok = decode(raw(encode_label(label("t-1"))))
    assert isinstance(ok, Incoming) and ok.value == label("t-1")
    garbage = decode(raw(b"\x00\x00\x00\x13\x89junk", offset=7))
    assert isinstance(garbage, DeadLetter) and garbage.value.endswith(b"junk")
    assert (garbage.partition, garbage.offset, garbage.error_code) == (2, 7, "malformed_message")
    empty = decode(raw(encode_label(label("t-2", merchant=""))))
    assert isinstance(empty, DeadLetter) and empty.error_code == "invalid_label"


def test_one_label_per_transaction_the_newest_sorted_by_transaction() -> None:
    labels = [label("t-2", 1), label("t-1", 5, fraud=False), label("t-2", 3), label("t-1", 2)]
    assert latest_per_transaction(labels) == [label("t-1", 5, fraud=False), label("t-2", 3)]
