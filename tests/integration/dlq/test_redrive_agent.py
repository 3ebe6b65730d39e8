"""The issue's acceptance test: re-driving a dead letter yields exactly one decision.

The honest, curable failure: a gateway starts writing a newer transaction version before
the agents that know it are deployed (producers upgraded first, a classic deployment-order
slip). The running agents cannot decode the record and dead-letter it as
``unknown_schema_id``; once the new agents run, the letter is re-driven, twice, and decided
once. The "new" agents are the real worker run with a copy of the ``schemas`` package
holding a ``transaction.v3.avsc`` (the fields of v2) first on its path: the same code with
one more contract. (Records are planned from their latest ``.avsc`` and must match their
class, so a copy *without* a version, as this test once made, no longer runs at all.)
A letter whose cause is not fixed (a non-positive amount) is re-driven too: it is simply
dead-lettered again, naming the letter it came from, and decided never.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from typer.testing import CliRunner

import schemas
from dlq.letters import HEADER_REDRIVE_OF, Letter
from dlq.source import DlqTopics, load_letters
from schemas.codec import encode_transaction
from schemas.connections import KafkaConnection
from schemas.records import Transaction
from schemas.topics import TRANSACTIONS
from sentinel_cli.main import app
from stream_agents.settings import AgentSettings
from tests.support.agents import BOOTSTRAP, Workers, produce, transactions, wait_for_decisions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


NEXT_TRANSACTION_ID = 1003  # schema id of transaction v3: the registry's record code 1


def schemas_with_transaction_v3(root: Path) -> Path:
    """A copy of the ``schemas`` package that also reads transaction v3 (v2's fields)."""
    target = root / "schemas"
    shutil.copytree(
        Path(schemas.__file__).parent, target, ignore=shutil.ignore_patterns("__pycache__")
    )
    avro = target / "avro"
    shutil.copy(avro / "transaction.v2.avsc", avro / "transaction.v3.avsc")
    return root


def produce_as_v3(prefix: str, tx: Transaction) -> None:
    """``tx`` framed with transaction v3's schema id, as an upgraded gateway writes it."""
    framed = encode_transaction(tx)
    value = framed[:1] + NEXT_TRANSACTION_ID.to_bytes(4, "big") + framed[5:]
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    producer.produce(f"{prefix}{TRANSACTIONS.name}", value, tx.account_id.encode())
    assert producer.flush(30) == 0


def wait_for_letters(prefix: str, count: int, timeout: float = 90) -> list[Letter]:
    topics = DlqTopics.of("dead-letter", prefix)
    conn = KafkaConnection(topic_prefix=prefix)
    deadline = time.monotonic() + timeout
    while True:
        letters = load_letters(conn, topics).letters
        if len(letters) >= count or time.monotonic() > deadline:
            return letters
        time.sleep(0.5)


def committed_offset(prefix: str, partition: int) -> int:
    """Where the agents' consumer group will resume on ``partition`` of transactions."""
    group = f"{prefix}{AgentSettings().app_id}"
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
    try:
        topic = f"{prefix}{TRANSACTIONS.name}"
        [found] = consumer.committed([TopicPartition(topic, partition)], timeout=30)
        return found.offset
    finally:
        consumer.close()


def redrive(prefix: str, letter_id: str) -> str:
    result = CliRunner().invoke(
        app,
        ["dlq", "redrive", letter_id],
        env={"SENTINEL_KAFKA_TOPIC_PREFIX": prefix, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_redriving_a_dead_letter_yields_exactly_one_decision(
    agents: tuple[str, Workers], tmp_path: Path
) -> None:
    prefix, old = agents
    new_path = schemas_with_transaction_v3(tmp_path / "new-agent")
    (tmp_path / "new-logs").mkdir()
    workers = Workers({**old.env, "PYTHONPATH": str(new_path)}, tmp_path / "new-logs")
    try:
        _redrive_after_the_upgrade(prefix, old, workers)
    finally:
        workers.stop_all()


def _redrive_after_the_upgrade(prefix: str, old: Workers, workers: Workers) -> None:
    old.start()
    [tx, follow_up] = transactions(accounts=1, per_account=2)
    tx = replace(tx, merchant_name="Chai Point")
    produce_as_v3(prefix, tx)  # a version the running agents do not know

    [letter] = wait_for_letters(prefix, 1)
    assert letter.letter.error_code == "unknown_schema_id"
    old.stop_all()  # a clean stop commits the offsets past the dead-lettered record
    source = letter.letter
    assert committed_offset(prefix, source.partition) > source.offset

    workers.start()  # the fix: agents that know transaction v3
    bad = replace(tx, transaction_id=str(uuid.uuid4()), amount=Decimal("0.00"))
    produce(prefix, [bad])
    letters = wait_for_letters(prefix, 2)
    [unfixable] = [x for x in letters if x.letter.error_code == "invalid_transaction"]

    assert "re-driven: 1" in redrive(prefix, str(letter.id))
    assert "already re-driven: 1" in redrive(prefix, str(letter.id))
    assert "re-driven: 1" in redrive(prefix, str(unfixable.id))
    # Same account, same partition: once this one is decided, so is everything before it.
    produce(prefix, [follow_up])
    decisions = wait_for_decisions(prefix, {tx.transaction_id, follow_up.transaction_id})

    mine = [d for d in decisions if d.transaction_id == tx.transaction_id]
    assert len(mine) == 1
    assert mine[0].transaction.merchant_name == "Chai Point"
    assert not [d for d in decisions if d.transaction_id == bad.transaction_id]

    letters = wait_for_letters(prefix, 3)
    again = [x for x in letters if x.id not in {letter.id, unfixable.id}]
    assert [x.letter.error_code for x in again] == ["invalid_transaction"]
    assert again[0].letter.headers[HEADER_REDRIVE_OF] == f"dead-letter/{unfixable.id}"
    assert {str(x.id) for x in letters if x.redriven} == {str(letter.id), str(unfixable.id)}
