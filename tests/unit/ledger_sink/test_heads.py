"""Signed chain heads (pure) and the signing writer's timing, with in-memory stand-ins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ledger_sink import heads
from ledger_sink.errors import KafkaUnavailable
from ledger_sink.head_publisher import SigningWriter
from ledger_sink.heads import Head, HeadError
from ledger_sink.writer import WriteResult
from schemas.records import Decision

KEY = b"k" * 32
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
HEAD = Head("acct-1", 42, 7, bytes(range(32)))


def test_a_signed_head_survives_the_topic_and_verifies() -> None:
    signed = heads.decode(heads.encode(heads.sign(HEAD, KEY, NOW)))
    assert signed.head == HEAD
    assert heads.signature_error(signed, KEY) is None


@pytest.mark.parametrize(
    "change",
    [{"seq": 8}, {"entry_id": 43}, {"entry_hash": bytes(32)}, {"account_id": "acct-2"}],
)
def test_any_changed_field_breaks_the_signature(change: dict[str, object]) -> None:
    signed = heads.sign(HEAD, KEY, NOW)
    altered = replace(signed, head=replace(HEAD, **change))  # type: ignore[arg-type]
    assert "does not match" in (heads.signature_error(altered, KEY) or "")


def test_another_key_is_named_as_such_and_the_key_id_reveals_nothing() -> None:
    signed = heads.sign(HEAD, b"x" * 32, NOW)
    assert "another key" in (heads.signature_error(signed, KEY) or "")
    assert KEY.hex() not in heads.key_id(KEY) and len(heads.key_id(KEY)) == 16


@pytest.mark.parametrize("value", [b"", b"{}", b"[1]", b'{"v": 2}', b"\xff"])
def test_an_unreadable_record_is_a_head_error(value: bytes) -> None:
    with pytest.raises(HeadError):
        heads.decode(value)


def test_newest_keeps_the_highest_seq_per_account() -> None:
    older = heads.encode(heads.sign(HEAD, KEY, NOW))
    newer = heads.encode(heads.sign(replace(HEAD, seq=9, entry_id=50), KEY, NOW))
    other = heads.encode(heads.sign(replace(HEAD, account_id="acct-2"), KEY, NOW))
    found = heads.newest([newer, older, other])
    assert {a: s.head.seq for a, s in found.items()} == {"acct-1": 9, "acct-2": 7}


class Inner:
    def __init__(self) -> None:
        self.closed = False
        self.batches = 0

    def write(self, decisions: Sequence[Decision], /) -> WriteResult:
        self.batches += 1
        return WriteResult(1, 0, (replace(HEAD, seq=self.batches),))

    def close(self) -> None:
        self.closed = True


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.down = False

    def produce_all(self, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        if self.down:
            raise KafkaUnavailable("broker down")
        self.sent.extend(records)

    def close(self) -> None:
        pass


def test_heads_are_published_per_interval_newest_only_and_on_close() -> None:
    clock = [0.0]
    inner, producer = Inner(), Producer()
    writer = SigningWriter(inner, producer, KEY, 10.0, lambda: NOW, lambda: clock[0])
    writer.write([])
    writer.write([])
    assert producer.sent == []  # inside the interval
    clock[0] = 10.0
    writer.write([])
    assert [heads.decode(v).head.seq for _, v in producer.sent] == [3]  # the newest head
    writer.write([])
    writer.close()
    assert [heads.decode(v).head.seq for _, v in producer.sent] == [3, 4]
    assert inner.closed


def test_a_broker_that_does_not_answer_keeps_the_heads_for_the_next_attempt() -> None:
    inner, producer = Inner(), Producer()
    writer = SigningWriter(inner, producer, KEY, 0.0, lambda: NOW)
    producer.down = True
    assert writer.write([]).written == 1  # the batch is written all the same
    producer.down = False
    assert writer.publish() == 1
    assert heads.decode(producer.sent[0][1]).head.seq == 1
