"""The reviews sink against the real broker and a real database: an approved review moves
its money with a second, chained ledger entry; one resolution per case (a double submit is
one, a second analyst's is dead-lettered); the webhook event and the label go out; a
redelivered stream changes nothing."""

from __future__ import annotations

import threading
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import psycopg
import pytest

from ledger_sink import reviews
from ledger_sink.reviews import RESOLVED_EVENT, ReviewsSettings
from ledger_sink.testing import decision, transaction
from ledger_sink.verify import verify_ledger
from ledger_sink.writer import LedgerWriter
from schemas.codec import (
    decode_dead_letter,
    decode_label,
    decode_webhook_event,
    encode_review_resolution,
)
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Outcome, ReviewResolution, TxType, webhook_event_id_for
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    balances,
    caught_up,
    produce,
    read_all,
    wait_until,
)
from tests.support.loops import loop_thread

pytestmark = pytest.mark.integration

RESOLVED_AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def settings(topics: dict[str, TopicSpec], dsn: str, group: str) -> ReviewsSettings:
    prefix = topics["reviews"].name.removesuffix("reviews")
    return ReviewsSettings(
        group_id=group,
        batch_size=4,  # several batches, so a refusal splits one and the rest goes on
        poll_timeout_s=0.1,
        kafka=KafkaConnection(topic_prefix=prefix),
        postgres=PostgresConnection(dsn=dsn),
    )


def reviews_sink(config: ReviewsSettings) -> AbstractContextManager[threading.Thread]:
    return loop_thread(reviews.run, config, "reviews sink")


def done(config: ReviewsSettings) -> bool:
    topic = config.topic("reviews")
    return caught_up(config.kafka.bootstrap_servers, config.consumer_group, topic)


def resolution(
    decided: object, verdict: Outcome, *, fraud: bool = False, analyst: str = "ana"
) -> ReviewResolution:
    return ReviewResolution(
        resolution_id=str(uuid.uuid4()),
        transaction_id=decided.transaction_id,  # type: ignore[attr-defined]
        account_id=decided.account_id,  # type: ignore[attr-defined]
        decision_id=decided.decision_id,  # type: ignore[attr-defined]
        verdict=verdict,
        confirmed_fraud=fraud,
        note=f"{analyst} looked",
        analyst=analyst,
        resolved_at=RESOLVED_AT,
    )


def entries(dsn: str, transaction_id: str) -> list[tuple[str, Decimal, int]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT kind, amount, hash_version FROM ledger_entries WHERE transaction_id = %s"
            " ORDER BY seq",
            [transaction_id],
        ).fetchall()


def resolutions(dsn: str) -> dict[str, tuple[str, str, bool]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT transaction_id, resolution_id::text, verdict::text, confirmed_fraud"
            " FROM review_resolutions"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_resolutions_move_money_once_notify_and_label(
    ledger_db: str, project_topics: dict[str, TopicSpec]
) -> None:
    # The new user: a first credit of 100.00 goes to REVIEW, the next debit of 30.25
    # is approved; until an analyst approves the credit the balance is -30.25.
    credit = decision(transaction("acct-new", "100.00", tx_type=TxType.CREDIT), Outcome.REVIEW)
    debit = decision(transaction("acct-new", "30.25"), Outcome.APPROVE)
    stolen = decision(transaction("acct-2", "40.00", merchant_id="m-9"), Outcome.REVIEW)
    writer = LedgerWriter(ledger_db)
    writer.write([credit, debit, stolen])
    writer.close()
    assert balances(ledger_db)["acct-new"] == Decimal("-30.25")

    approve = resolution(credit, Outcome.APPROVE)
    second_analyst = resolution(credit, Outcome.DECLINE, analyst="bob")
    fraud = resolution(stolen, Outcome.DECLINE, fraud=True)
    not_a_review = resolution(debit, Outcome.DECLINE)
    topic = project_topics["reviews"].name
    stream = [approve, approve, fraud, second_analyst, not_a_review]  # approve: a double click
    produce(topic, [(r.account_id.encode(), encode_review_resolution(r)) for r in stream])
    produce(topic, [(b"acct-x", b"\x00\x00\x00\x2a\xf9 not a resolution")])

    first_run = settings(project_topics, ledger_db, "reviews-a")
    with reviews_sink(first_run):
        assert wait_until(lambda: done(first_run), 60)

    assert balances(ledger_db)["acct-new"] == Decimal("69.75")
    assert balances(ledger_db)["acct-2"] == Decimal("0.0000")
    assert entries(ledger_db, credit.transaction_id) == [
        ("decision", Decimal("0.0000"), 1),
        ("resolution", Decimal("100.0000"), 2),
    ]
    assert [kind for kind, _, _ in entries(ledger_db, stolen.transaction_id)] == ["decision"]
    expected = {
        credit.transaction_id: (approve.resolution_id, "APPROVE", False),
        stolen.transaction_id: (fraud.resolution_id, "DECLINE", True),
    }
    assert resolutions(ledger_db) == expected
    with psycopg.connect(ledger_db, autocommit=True) as conn:
        report = verify_ledger(conn)
    assert report.broken is None and report.entries == 4

    letters = [decode_dead_letter(r.value) for r in read_all(project_topics["dead-letter"].name)]
    assert sorted(letter.error_code for letter in letters) == [
        "already_resolved",
        "malformed_message",
        "not_under_review",
    ]

    events = [decode_webhook_event(r.value) for r in read_all(project_topics["webhooks"].name)]
    assert {e.event_id for e in events} == {
        webhook_event_id_for(credit.decision_id, RESOLVED_EVENT),
        webhook_event_id_for(stolen.decision_id, RESOLVED_EVENT),
    }
    payload = orjson.loads(
        next(e for e in events if e.transaction_id == credit.transaction_id).payload_json
    )
    assert payload["outcome"] == "APPROVE" and payload["resolution_id"] == approve.resolution_id
    labels = {
        label.transaction_id: (label.is_fraud, label.merchant_id, label.labelled_at)
        for label in (decode_label(r.value) for r in read_all(project_topics["labels"].name))
    }
    assert labels == {
        credit.transaction_id: (False, "m-1", RESOLVED_AT),
        stolen.transaction_id: (True, "m-9", RESOLVED_AT),
    }

    # Another group reads the whole stream again: the ledger does not change at all.
    second_run = settings(project_topics, ledger_db, "reviews-b")
    with reviews_sink(second_run):
        assert wait_until(lambda: done(second_run), 60)
    assert balances(ledger_db)["acct-new"] == Decimal("69.75")
    assert resolutions(ledger_db) == expected
    assert len(entries(ledger_db, credit.transaction_id)) == 2
