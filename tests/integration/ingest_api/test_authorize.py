"""Synchronous authorize: a real decision within the deadline, or the marked fallback.

A small stand-in decider (a real Kafka consumer and producer, not a mock) answers each
transaction on the test's topics the way the stream agents do: a Decision on `decisions`
with the transaction id header, copied to the `decision-replies` partition the
transaction's `reply-to` header names.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from confluent_kafka import Consumer

from decision_core.outputs import reply_partition
from schemas import kafka_edge
from schemas.codec import decode_transaction, encode_decision
from schemas.connections import KafkaConnection
from schemas.enums import Channel, Outcome, TxType
from schemas.kafka_edge import decode_headers
from schemas.records import Decision, ReasonCode, Transaction, decision_id_for
from schemas.topics import (
    DECISION_REPLIES,
    DECISIONS,
    HEADER_AWAITED,
    HEADER_REPLY_TO,
    HEADER_TRANSACTION_ID,
    TRANSACTIONS,
)
from tests.support.api import headers, start_api, stop_api, transaction

pytestmark = pytest.mark.integration

SILENT_ACCOUNT = "acct-no-decision"
# The header names of each transaction the stand-in decider consumed, by transaction id.
HEADERS_SEEN: dict[str, set[str]] = {}


def decide(tx_bytes: bytes) -> tuple[str, bytes, str] | None:
    tx = decode_transaction(tx_bytes)
    if tx.account_id == SILENT_ACCOUNT:
        return None
    return decided(tx)


def decided(tx: Transaction) -> tuple[str, bytes, str]:
    outcome = Outcome.DECLINE if tx.amount > 10_000 else Outcome.APPROVE
    decision = Decision(
        decision_id=decision_id_for(tx.transaction_id),
        transaction_id=tx.transaction_id,
        account_id=tx.account_id,
        outcome=outcome,
        risk_score=0.91 if outcome else 0.02,
        ingested_at=tx.ingested_at or datetime.now(UTC),
        decided_at=datetime.now(UTC),
        transaction=tx,
        model_version="test",
        reason_codes=(ReasonCode(feature="amount", value=float(tx.amount), contribution=0.5),),
    )
    return tx.account_id, encode_decision(decision), tx.transaction_id


@pytest.fixture(scope="module")
def decider(topic_prefix: str) -> Iterator[None]:
    bootstrap = KafkaConnection().bootstrap_servers
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"decider-{uuid.uuid4()}",
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 5,
        }
    )
    # The agents' producer settings.
    producer = kafka_edge.producer(KafkaConnection(), **{"linger.ms": 0})
    consumer.subscribe([f"{topic_prefix}{TRANSACTIONS.name}"])
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            for msg in consumer.consume(num_messages=100, timeout=0.05):
                if msg.error() is None:
                    tid = decode_transaction(msg.value()).transaction_id
                    HEADERS_SEEN[tid] = set(decode_headers(msg.headers()))
                if msg.error() is None and (answer := decide(msg.value())):
                    key, value, tid = answer
                    sent = [(HEADER_TRANSACTION_ID, tid.encode())]
                    producer.produce(f"{topic_prefix}{DECISIONS.name}", value, key, headers=sent)
                    headers = tuple(decode_headers(msg.headers()).items())
                    to = reply_partition(headers, DECISION_REPLIES.partitions)
                    if to is not None:
                        replies = f"{topic_prefix}{DECISION_REPLIES.name}"
                        producer.produce(replies, value, key, partition=to, headers=sent)
            producer.poll(0)
        consumer.close()
        producer.flush(5)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield
    stop.set()
    thread.join(10)


@pytest.fixture(scope="module")
def second_api(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_api(api_env, tmp_path_factory.mktemp("api2") / "api.log")
    yield url
    stop_api(proc)


def authorize(
    url: str,
    key: str,
    deadline_ms: int = 1000,
    json_body: dict[str, object] | None = None,
    **changes: object,
) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/authorize",
        params={"deadline_ms": deadline_ms},
        json=transaction(**changes) if json_body is None else json_body,
        headers=headers(key),
        timeout=5,
    )


def test_authorize_returns_the_real_decision_from_either_api_process(
    api_url: str, second_api: str, ingest_key: str, decider: None
) -> None:
    for url in (api_url, second_api, api_url, second_api):
        response = authorize(url, ingest_key, amount="25000.00")
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["fallback"] is False
        assert answer["outcome"] == "DECLINE"
        assert answer["decision_id"] == decision_id_for(answer["transaction_id"])
        assert answer["reasons"] == ["amount=25000 (+0.500)"]


def test_authorize_falls_back_at_the_deadline_when_no_decision_comes(
    api_url: str, ingest_key: str, decider: None
) -> None:
    started = time.perf_counter()
    response = authorize(api_url, ingest_key, deadline_ms=150, account_id=SILENT_ACCOUNT)
    took_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200
    answer = response.json()
    assert (answer["fallback"], answer["outcome"], answer["decision_id"]) == (True, "REVIEW", None)
    # It waited for the deadline (timer granularity allows a hair less), then answered; the
    # upper bound is loose on purpose: this is a behaviour check, not a benchmark.
    assert 140 <= answer["elapsed_ms"] < 2000 and took_ms >= 140


def test_an_authorized_transaction_is_marked_awaited_with_its_reply_partition_a_submitted_one_not(
    api_url: str, ingest_key: str, decider: None
) -> None:
    # The agents close a micro-batch at once for a transaction its caller waits on.
    awaited, submitted = transaction(), transaction()
    assert authorize(api_url, ingest_key, json_body=awaited).status_code == 200
    response = httpx.post(
        f"{api_url}/v1/transactions", json=submitted, headers=headers(ingest_key), timeout=5
    )
    assert response.status_code == 202, response.text
    ids = (awaited["transaction_id"], submitted["transaction_id"])
    deadline = time.monotonic() + 30
    while not all(tid in HEADERS_SEEN for tid in ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {HEADER_AWAITED, HEADER_REPLY_TO} <= HEADERS_SEEN[ids[0]]
    assert not {HEADER_AWAITED, HEADER_REPLY_TO} & HEADERS_SEEN[ids[1]]


def test_deadline_out_of_bounds_is_refused(api_url: str, ingest_key: str) -> None:
    response = authorize(api_url, ingest_key, deadline_ms=60_000)
    assert response.status_code == 422
    assert response.json()["details"] == {"min": 10, "max": 2000}


def test_authorize_replay_returns_the_first_answer(
    api_url: str, ingest_key: str, decider: None
) -> None:
    body, sent = transaction(), headers(ingest_key)
    first = httpx.post(f"{api_url}/v1/authorize", json=body, headers=sent, timeout=5)
    again = httpx.post(f"{api_url}/v1/authorize", json=body, headers=sent, timeout=5)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content


def test_a_decision_for_another_body_under_the_same_id_does_not_answer(
    api_url: str, ingest_key: str, topic_prefix: str, decider: None
) -> None:
    """A gateway producing straight to Kafka reused the id (no 409 stops it there): its
    decision must not answer this authorize, which falls back instead (issue 18, item 8)."""
    body = transaction(account_id=SILENT_ACCOUNT)  # the decider never answers this one
    impostor = Transaction(
        transaction_id=body["transaction_id"],
        account_id=SILENT_ACCOUNT,
        card_token="tok_5d41402abc4b",
        amount=Decimal("1.00"),
        currency="INR",
        merchant_id="m-1",
        country="IN",
        channel=Channel.ECOM,
        timestamp=datetime.now(UTC),
        type=TxType.DEBIT,
    )
    key, value, tid = decided(impostor)

    def inject() -> None:
        time.sleep(0.3)  # after the API published and registered its waiter
        producer = kafka_edge.producer(KafkaConnection())
        # On every reply partition, so on the one the API process reads.
        for partition in range(DECISION_REPLIES.partitions):
            producer.produce(
                f"{topic_prefix}{DECISION_REPLIES.name}",
                value,
                key.encode(),
                partition=partition,
                headers=[(HEADER_TRANSACTION_ID, tid.encode())],
            )
        producer.flush(5)

    injector = threading.Thread(target=inject)
    injector.start()
    response = httpx.post(
        f"{api_url}/v1/authorize",
        params={"deadline_ms": 1500},
        json=body,
        headers=headers(ingest_key),
        timeout=5,
    )
    injector.join(10)
    assert response.status_code == 200, response.text
    assert response.json()["fallback"] is True
