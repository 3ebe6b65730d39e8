"""What a re-drive produces for a letter, and which letters a run re-drives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson

from dlq.letters import HEADER_REDRIVE_OF, HEADER_REDRIVE_ORIGIN, Letter, LetterFilter, LetterId
from dlq.redrive import outbound, plan
from dlq.source import DlqTopics
from ledger_sink.webhooks import retry_records
from ledger_sink.webhooks.retry_records import Ticket
from schemas.records import DeadLetter

AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
TOPICS = DlqTopics.of("dead-letter", "env1.")


def letter(
    offset: int = 4,
    headers: dict[str, str] | None = None,
    source: str = "env1.transactions",
    redriven: bool = False,
) -> Letter:
    dead = DeadLetter(
        source_topic=source,
        partition=2,
        offset=17,
        key=b"acct-9",
        value=b"\x00\x00\x00\x03\xea body",
        error_code="unknown_schema_id",
        error_message="unknown schema id 1002",
        failed_at=AT,
        headers=headers or {},
    )
    return Letter(LetterId(0, offset), dead, redriven)


def test_topics_carry_the_prefix_but_marks_are_keyed_by_the_declared_name() -> None:
    assert (TOPICS.name, TOPICS.marks) == ("env1.dead-letter", "env1.dead-letter.redrives")
    record, mark = outbound(letter(), TOPICS, AT, "ana@host")
    assert mark.topic == "env1.dead-letter.redrives"
    assert mark.key == b"dead-letter/0:4"


def test_the_original_goes_back_byte_for_byte_with_a_link_to_the_letter() -> None:
    original = letter(headers={"transaction-id": "tx-9"})
    record, mark = outbound(original, TOPICS, AT, "ana@host")
    assert (record.topic, record.partition, record.key, record.value) == (
        "env1.transactions",
        2,
        b"acct-9",
        original.letter.value,
    )
    assert dict(record.headers) == {
        "transaction-id": b"tx-9",
        HEADER_REDRIVE_OF: b"dead-letter/0:4",
        HEADER_REDRIVE_ORIGIN: b"dead-letter/0:4",
    }
    assert orjson.loads(mark.value) == {
        "v": 1,
        "letter": "0:4",
        "source_topic": "env1.transactions",
        "source_partition": 2,
        "source_offset": 17,
        "error_code": "unknown_schema_id",
        "redriven_at": "2026-11-30T03:00:00+00:00",
        "by": "ana@host",
    }


def test_a_second_generation_letter_keeps_the_chain_origin() -> None:
    again = letter(
        offset=9,
        headers={HEADER_REDRIVE_OF: "dead-letter/0:4", HEADER_REDRIVE_ORIGIN: "dead-letter/0:4"},
    )
    record, _mark = outbound(again, TOPICS, AT, "ana@host")
    assert dict(record.headers)[HEADER_REDRIVE_OF] == b"dead-letter/0:9"
    assert dict(record.headers)[HEADER_REDRIVE_ORIGIN] == b"dead-letter/0:4"


def test_plan_skips_marked_letters_and_missing_topics() -> None:
    fresh = letter(offset=1)
    fresh_too = letter(offset=6)
    done = letter(offset=2, redriven=True)
    orphan = letter(offset=3, source="env1.gone")
    other = letter(offset=5)
    asked: list[str] = []

    def exists(name: str) -> bool:
        asked.append(name)
        return name != "env1.gone"

    chosen = LetterFilter(
        ids=frozenset({fresh.id, fresh_too.id, done.id, orphan.id, LetterId(7, 7)})
    )
    report = plan([fresh, done, orphan, other, fresh_too], chosen, exists)
    assert report.pending == [fresh, fresh_too]
    assert report.already == [done]
    assert report.skipped == [(orphan, "source topic env1.gone does not exist")]
    assert sorted(asked) == ["env1.gone", "env1.transactions"]  # once per topic
    assert report.missing == [LetterId(7, 7)]


def test_a_webhook_letter_goes_back_as_the_same_retry_ticket() -> None:
    # Exhausted deliveries keep the retry record's headers: re-driven to webhooks.retry they
    # are one more (the last) attempt for the same subscriber, due at once.
    ticket = Ticket("sub-1", attempt=10, due_ms=1_000, last_error="503", event_id="ev-1")
    headers = {name: value.decode() for name, value in ticket.headers()}
    exhausted = replace(
        letter(headers=headers, source="env1.webhooks.retry").letter,
        error_code="webhook_retries_exhausted",
    )
    record, _mark = outbound(
        Letter(LetterId(1, 3), exhausted),
        DlqTopics.of("webhooks.dead-letter", "env1."),
        AT,
        "ana@host",
    )
    assert record.topic == "env1.webhooks.retry"
    assert retry_records.parse(dict(record.headers)) == ticket
    assert dict(record.headers)[HEADER_REDRIVE_OF] == b"webhooks.dead-letter/1:3"
