"""sentinel dlq against the real broker: listing, showing, and re-driving exactly once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from typer.testing import CliRunner

from dlq.kafka import DlqError
from dlq.letters import HEADER_REDRIVE_OF, LetterFilter, LetterId
from dlq.redrive import redrive
from dlq.source import DlqTopics
from schemas.codec import encode_dead_letter, encode_transaction
from schemas.connections import KafkaConnection
from schemas.enums import Channel, TxType
from schemas.records import HEADER_PAN_MASKED, DeadLetter, Transaction
from schemas.topics import TopicSpec
from sentinel_cli.main import app

pytestmark = pytest.mark.integration

PAN = "4111111111111111"
NOW = datetime.now(UTC).replace(microsecond=0)


def transaction(card_token: str = "tok_abcdefgh") -> Transaction:  # noqa: S107 - a token
    return Transaction(
        transaction_id=str(uuid.uuid4()),
        account_id="acct-7",
        card_token=card_token,
        amount=Decimal("12.50"),
        currency="INR",
        merchant_id="m-1",
        country="IN",
        channel=Channel.POS,
        timestamp=NOW,
        type=TxType.DEBIT,
    )


@pytest.fixture
def prefix(project_topics: dict[str, TopicSpec]) -> str:
    return project_topics["dead-letter"].name.removesuffix("dead-letter")


@pytest.fixture
def conn(prefix: str) -> KafkaConnection:
    return KafkaConnection(topic_prefix=prefix)


def produce(conn: KafkaConnection, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": conn.bootstrap_servers, "partitioner": "murmur2"})
    for key, value in records:
        producer.produce(topic, value, key, partition=0)
    assert producer.flush(30) == 0


def read_committed(conn: KafkaConnection, topic: str) -> list[Message]:
    """Every committed record of ``topic`` (what a read_committed consumer will ever see)."""
    consumer = Consumer(
        {
            "bootstrap.servers": conn.bootstrap_servers,
            "group.id": uuid.uuid4().hex,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[Message] = []
        left = set(parts)
        while left:
            for message in consumer.consume(500, 1.0):
                if message.error() is None:
                    out.append(message)
                else:
                    left.discard(message.partition())
        return out
    finally:
        consumer.close()


@pytest.fixture
def letters(conn: KafkaConnection, prefix: str) -> Iterator[list[Transaction]]:
    """Three dead letters on partition 0, and one record that is not a dead letter."""
    txs = [transaction(), transaction(card_token=PAN), transaction()]
    dead = [
        DeadLetter(
            source_topic=f"{prefix}transactions",
            partition=3 + n,
            offset=100 + n,
            key=tx.account_id.encode(),
            value=encode_transaction(tx),
            error_code=code,
            error_message=f"could not handle {tx.card_token}",
            failed_at=NOW + timedelta(minutes=n),
            headers={"transaction-id": tx.transaction_id},
        )
        for n, (tx, code) in enumerate(
            zip(txs, ["unknown_schema_id", "invalid_transaction", "unknown_schema_id"], strict=True)
        )
    ]
    records = [(letter.key, encode_dead_letter(letter)) for letter in dead]
    produce(conn, f"{prefix}dead-letter", [*records, (None, b"not a dead letter")])
    yield txs


def cli(prefix: str, *args: str) -> str:
    result = CliRunner().invoke(
        app, ["dlq", *args], env={"SENTINEL_KAFKA_TOPIC_PREFIX": prefix, "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_every_letter_and_filters(prefix: str, letters: list[Transaction]) -> None:
    rows = orjson.loads(cli(prefix, "list", "--json"))
    assert [row["id"] for row in rows] == ["0:0", "0:1", "0:2", "0:3"]
    assert rows[0]["source_topic"] == f"{prefix}transactions"
    assert (rows[1]["source_partition"], rows[1]["source_offset"]) == (4, 101)
    assert rows[1]["error_message"] == "could not handle ************1111"
    assert rows[3]["unreadable"].startswith("malformed_message")
    assert not any(row.get("redriven") for row in rows)

    coded = orjson.loads(cli(prefix, "list", "--json", "--code", "unknown_schema_id"))
    assert [row["id"] for row in coded] == ["0:0", "0:2"]
    since = (NOW + timedelta(minutes=1)).isoformat()
    later = orjson.loads(
        cli(prefix, "list", "--json", "--since", since, "--source-topic", "transactions")
    )
    assert [row["id"] for row in later] == ["0:1", "0:2"]
    table = cli(prefix, "list")
    assert "0:2" in table and "unknown_schema_id" in table and PAN not in table


def test_show_decodes_the_original_and_masks_the_pan(
    prefix: str, letters: list[Transaction]
) -> None:
    shown = orjson.loads(cli(prefix, "show", "0:1", "--json"))
    assert shown["original"]["record"] == "transaction"
    assert shown["original"]["value"]["transaction_id"] == letters[1].transaction_id
    assert shown["original"]["value"]["card_token"] == "************1111"
    # Masked when it was written (schemas.codec), and marked so: it cannot be re-driven.
    assert shown["headers"] == {
        "transaction-id": letters[1].transaction_id,
        HEADER_PAN_MASKED: "true",
    }
    printed = cli(prefix, "show", "0:1")
    assert letters[1].transaction_id in printed and PAN not in printed

    missing = CliRunner().invoke(
        app, ["dlq", "show", "0:99"], env={"SENTINEL_KAFKA_TOPIC_PREFIX": prefix}
    )
    assert missing.exit_code == 1 and "no record at 0:99" in missing.output


def test_redriving_the_same_letter_twice_produces_it_once(
    conn: KafkaConnection, prefix: str, letters: list[Transaction]
) -> None:
    dry = cli(prefix, "redrive", "0:0", "--dry-run")
    assert "would re-drive: 1" in dry
    assert read_committed(conn, f"{prefix}transactions") == []

    assert "re-driven: 1" in cli(prefix, "redrive", "0:0")
    assert "re-driven: 0, already re-driven: 1" in cli(prefix, "redrive", "0:0")

    redriven = read_committed(conn, f"{prefix}transactions")
    assert len(redriven) == 1
    record = redriven[0]
    assert record.partition() == 3  # the letter's source partition, not a re-hash
    assert record.key() == b"acct-7"
    assert record.value() == encode_transaction(letters[0])
    headers = dict(record.headers() or [])
    assert headers["transaction-id"] == letters[0].transaction_id.encode()
    assert headers[HEADER_REDRIVE_OF] == b"dead-letter/0:0"
    rows = orjson.loads(cli(prefix, "list", "--json"))
    assert [row["id"] for row in rows if row.get("redriven")] == ["0:0"]
    pending = orjson.loads(cli(prefix, "list", "--json", "--pending"))
    assert [row["id"] for row in pending] == ["0:1", "0:2", "0:3"]  # 0:3: unreadable
    unknown = CliRunner().invoke(
        app, ["dlq", "redrive", "2:0"], env={"SENTINEL_KAFKA_TOPIC_PREFIX": prefix}
    )
    assert unknown.exit_code == 1 and "no letter at 2:0" in unknown.output


def test_concurrent_redrives_of_one_letter_produce_it_once(
    conn: KafkaConnection, prefix: str, letters: list[Transaction]
) -> None:
    topics = DlqTopics.of("dead-letter", prefix)
    chosen = LetterFilter(ids=frozenset({LetterId(0, 2)}))
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        try:
            report = redrive(conn, topics, chosen)
            outcomes.append(f"redriven {len(report.redriven)} already {len(report.already)}")
        except DlqError as exc:  # fenced by the other run: it stops, re-driving nothing
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert "redriven 1 already 0" in outcomes, outcomes
    assert len(outcomes) == 2
    values = [m.value() for m in read_committed(conn, f"{prefix}transactions")]
    assert values == [encode_transaction(letters[2])]


def test_filter_redrive_skips_what_was_already_redriven(
    conn: KafkaConnection, prefix: str, letters: list[Transaction]
) -> None:
    cli(prefix, "redrive", "0:0")
    out = cli(prefix, "redrive", "--code", "unknown_schema_id")
    assert "re-driven: 1, already re-driven: 1" in out
    values = sorted(m.value() for m in read_committed(conn, f"{prefix}transactions"))
    assert values == sorted(encode_transaction(tx) for tx in (letters[0], letters[2]))
    refused = CliRunner().invoke(
        app, ["dlq", "redrive"], env={"SENTINEL_KAFKA_TOPIC_PREFIX": prefix}
    )
    assert refused.exit_code != 0
