"""The labels sink against the real broker and a real database: every label lands once, a
redelivered stream changes nothing, a newer verdict replaces an older one, bad records are
dead-lettered and the stream goes on."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from confluent_kafka import KafkaException

from ledger_sink import labels
from ledger_sink.labels import LabelsSettings
from schemas.codec import decode_dead_letter, encode_label
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Label
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    caught_up,
    produce,
    read_all,
    wait_until,
)
from tests.support.loops import loop_thread

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def label(n: int, fraud: bool = True, later_h: int = 0) -> Label:
    return Label(
        transaction_id=f"tx-{n:04d}", account_id=f"acct-{n % 7}", merchant_id=f"m-{n % 5}",
        is_fraud=fraud, scenario="compromised_terminal" if fraud else None,
        labelled_at=T0 + timedelta(hours=n % 24 + later_h),
        transaction_timestamp=T0 - timedelta(days=2, minutes=n),
    )  # fmt: skip


def settings(topics: dict[str, TopicSpec], dsn: str, group: str) -> LabelsSettings:
    prefix = topics["labels"].name.removesuffix("labels")
    return LabelsSettings(
        group_id=group,
        batch_size=30,
        poll_timeout_s=0.1,
        kafka=KafkaConnection(topic_prefix=prefix),
        postgres=PostgresConnection(dsn=dsn),
    )


def labels_sink(config: LabelsSettings) -> AbstractContextManager[threading.Thread]:
    """`sentinel labels sink`'s loop in a thread, stopped gracefully after."""
    return loop_thread(labels.run, config, "labels sink")


def stored(dsn: str) -> dict[str, tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT transaction_id, account_id, merchant_id, is_fraud, scenario, labelled_at,"
            " transaction_ts FROM labels"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def done(config: LabelsSettings) -> bool:
    try:
        return caught_up(config.kafka.bootstrap_servers, config.consumer_group, config.labels_topic)
    except KafkaException:
        # A topic created moments ago can answer "not leader for partition" to the first
        # watermark query (seen with a single record produced): not caught up yet, ask again.
        return False


def as_row(x: Label) -> tuple[object, ...]:
    return (x.account_id, x.merchant_id, x.is_fraud, x.scenario, x.labelled_at,
            x.transaction_timestamp)  # fmt: skip


def test_labels_land_once_and_a_redelivered_stream_changes_nothing(
    ledger_db: str, project_topics: dict[str, TopicSpec]
) -> None:
    topic = project_topics["labels"].name
    first = [label(n) for n in range(100)]
    # The same labels again (a producer's retry), then a newer genuine verdict on tx-0003.
    verdict = label(3, fraud=False, later_h=48)
    stream = [*first, *first[:40], verdict]
    produce(topic, [(x.account_id.encode(), encode_label(x)) for x in stream])
    produce(topic, [(b"acct-x", b"\x00\x00\x00\x13\x89 not a label")])
    produce(topic, [(b"acct-9", encode_label(label(200)))])

    first_run = settings(project_topics, ledger_db, "labels-a")
    with labels_sink(first_run):
        assert wait_until(lambda: done(first_run), 60)
    expected = {x.transaction_id: as_row(x) for x in [*first, label(200)]}
    expected[verdict.transaction_id] = as_row(verdict)
    assert stored(ledger_db) == expected

    # A new consumer group redelivers every record (the older tx-0003 label after the newer
    # verdict among them): the table must not change at all.
    second_run = settings(project_topics, ledger_db, "labels-b")
    with labels_sink(second_run):
        assert wait_until(lambda: done(second_run), 60)
    assert stored(ledger_db) == expected
    letters = [decode_dead_letter(r.value) for r in read_all(project_topics["dead-letter"].name)]
    assert {letter.error_code for letter in letters} == {"malformed_message"}
    assert [letter.source_topic for letter in letters] == [topic, topic]  # once per run


def test_a_chargeback_forty_days_late_lands_with_its_labelled_at(
    ledger_db: str, project_topics: dict[str, TopicSpec]
) -> None:
    """Late labels are normal (chargebacks): the sink takes them like any other."""
    event = T0 - timedelta(days=40)
    late = Label(
        transaction_id="tx-late-chargeback", account_id="acct-late", merchant_id="m-late",
        is_fraud=True, scenario="chargeback", labelled_at=T0, transaction_timestamp=event,
        reason="10.4",
    )  # fmt: skip
    produce(project_topics["labels"].name, [(b"acct-late", encode_label(late))])
    config = settings(project_topics, ledger_db, "labels-late")
    with labels_sink(config):
        assert wait_until(lambda: done(config), 60)
    with psycopg.connect(ledger_db) as conn:
        row = conn.execute(
            "SELECT is_fraud, scenario, labelled_at, transaction_ts, reason FROM labels"
            " WHERE transaction_id = %s",
            (late.transaction_id,),
        ).fetchone()
    assert row == (True, "chargeback", T0, event, "10.4")
