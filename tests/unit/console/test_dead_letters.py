"""The dead letters page's pure parts: which topics, row order, the detail, the outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.dead_letters import UnknownTopic, detail, outcome, rows, topics_of
from dlq.letters import Letter, LetterId, Unreadable
from dlq.redrive import RedriveReport
from dlq.source import Loaded
from schemas.connections import KafkaConnection
from schemas.records import DeadLetter

PAN = "4111111111111111"
T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def letter(offset: int, minutes: int, value: bytes = b"not avro", **headers: str) -> Letter:
    dead = DeadLetter(
        source_topic="transactions",
        partition=2,
        offset=40 + offset,
        key=b"acct-1",
        value=value,
        error_code="unknown_schema_id",
        error_message="bad record",
        failed_at=T0 + timedelta(minutes=minutes),
        headers=headers,
    )
    return Letter(LetterId(0, offset), dead)


def test_only_the_dead_letter_topics_are_read_under_the_prefix() -> None:
    conn = KafkaConnection(topic_prefix="p.")
    topics = topics_of("webhooks.dead-letter", conn)
    assert (topics.name, topics.marks) == ("p.webhooks.dead-letter", "p.dead-letter.redrives")
    with pytest.raises(UnknownTopic):
        topics_of("transactions", conn)


def test_rows_are_newest_failure_first_then_the_unreadable() -> None:
    loaded = Loaded(
        [letter(0, 5), letter(1, 9), letter(2, 1)], [Unreadable(LetterId(1, 3), f"junk {PAN}")]
    )
    shown = rows(loaded)
    assert [row.id for row in shown] == ["0:1", "0:0", "0:2", "1:3"]
    assert shown[0].source == "transactions 2:41"
    assert not shown[-1].readable and PAN not in shown[-1].message


def test_the_detail_masks_headers_and_shows_undecodable_bytes_safely() -> None:
    shown = detail(letter(0, 0, value=b"\x00\x01" + PAN.encode(), note=f"card {PAN}"))
    assert shown["headers"]["note"] == "card ************1111"
    assert shown["original"]["decoded"] is False
    assert PAN not in shown["original_json"]
    assert shown["key"] == "acct-1"


def test_the_outcome_says_what_the_redrive_did() -> None:
    one, wanted = letter(0, 0), LetterId(0, 0)
    assert outcome(RedriveReport(redriven=[one]), wanted) == (
        "redriven",
        "re-driven to transactions partition 2",
    )
    assert outcome(RedriveReport(already=[one]), wanted)[0] == "already"
    skipped = outcome(RedriveReport(skipped=[(one, "source topic x does not exist")]), wanted)
    assert skipped == ("skipped", "not re-driven: source topic x does not exist")
    assert outcome(RedriveReport(missing=[wanted]), wanted)[0] == "missing"
