"""End to end, real everything: HTTP or Kafka in, a decision in the ledger, a signed webhook
out, synchronous authorize, and a rule changed through the API changing live decisions."""

from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest
from confluent_kafka import Producer

from schemas.codec import encode_transaction
from schemas.topics import TRANSACTIONS
from tests.support.agents import BOOTSTRAP, transactions
from tests.support.api import headers, transaction
from tests.support.e2e import Pipeline, decided_once_and_announced, eventually, ledger_decision
from tests.support.relay import await_rule

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_http_ingest_to_ledger_to_signed_webhook(pipeline: Pipeline) -> None:
    body = transaction(amount="42.00")
    event_id = decided_once_and_announced(pipeline, body)
    tid = body["transaction_id"]
    assert orjson.loads(pipeline.receiver.bodies[event_id])["transaction_id"] == tid


def test_kafka_producer_ingest_reaches_the_ledger(pipeline: Pipeline) -> None:
    txs = transactions(accounts=3, per_account=2)
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    for tx in txs:
        producer.produce(
            f"{pipeline.prefix}{TRANSACTIONS.name}", encode_transaction(tx), tx.account_id.encode()
        )
    assert producer.flush(10) == 0
    for tx in txs:
        eventually(lambda tx=tx: ledger_decision(pipeline, tx.transaction_id))


def test_authorize_returns_the_real_decision_within_its_deadline(pipeline: Pipeline) -> None:
    for _ in range(5):  # light load: one request at a time
        response = httpx.post(
            f"{pipeline.url}/v1/authorize",
            params={"deadline_ms": 1000},
            json=transaction(),
            headers=headers(pipeline.ingest_key),
            timeout=5,
        )
        answer = response.json()
        assert response.status_code == 200 and answer["fallback"] is False, answer
        assert answer["elapsed_ms"] <= 1000


def test_a_rule_changed_through_the_api_changes_live_decisions(pipeline: Pipeline) -> None:
    marker = f"m-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{pipeline.url}/v1/rules",
        headers=pipeline.admin,
        json={
            "name": f"block {marker}",
            "action": "DECLINE",
            "expression": f"merchant_id == '{marker}'",
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    await_rule(pipeline.prefix, rule["rule_id"], 1)  # committed -> the relay publishes it
    time.sleep(1.5)  # the agents apply a change within a second
    first = transaction(merchant_id=marker)
    httpx.post(f"{pipeline.url}/v1/transactions", json=first, headers=headers(pipeline.ingest_key))
    declined = eventually(lambda: ledger_decision(pipeline, first["transaction_id"]))
    assert declined["outcome"] == "DECLINE"
    assert declined["rules_fired"] == [
        {"rule_id": rule["rule_id"], "version": 1, "action": "DECLINE"}
    ]

    httpx.post(f"{pipeline.url}/v1/rules/{rule['rule_id']}/disable", headers=pipeline.admin)
    await_rule(pipeline.prefix, rule["rule_id"], 2)
    time.sleep(1.5)
    second = transaction(merchant_id=marker)
    httpx.post(f"{pipeline.url}/v1/transactions", json=second, headers=headers(pipeline.ingest_key))
    after = eventually(lambda: ledger_decision(pipeline, second["transaction_id"]))
    assert after["rules_fired"] == []
