"""The simulator's producer against the real broker: counts, keys, per-account order, labels."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime

import pytest
from confluent_kafka import Consumer
from rich.console import Console

from fraudsim.simulate import SimConfig, simulate
from fraudsim.simulate.kafka_cli import send
from schemas.codec import decode_label, decode_transaction
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec

pytestmark = pytest.mark.integration


def consume(bootstrap: str, topic: str, expected: int) -> list[tuple[int, bytes, bytes]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + 30
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                seen.append((message.partition(), message.key(), message.value()))
    finally:
        consumer.close()
    return seen


def test_produce_sends_paced_keyed_transactions_then_their_labels(
    project_topics: dict[str, TopicSpec],
    kafka_connection: KafkaConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = project_topics["transactions"].name.removesuffix("transactions")
    monkeypatch.setenv("SENTINEL_KAFKA_TOPIC_PREFIX", prefix)
    data = simulate(SimConfig(customers=60, terminals=120, days=10, seed=3))  # ~1,200 rows
    began = time.monotonic()
    tally = send(data, rate=300, max_events=300, duration=None, console=Console(quiet=True))
    assert time.monotonic() - began >= 0.85  # 300 at 300/s, after a burst of 30
    assert tally.sent == 300 and tally.failed == 0 and tally.delivered == 300 + tally.labels
    bootstrap = kafka_connection.bootstrap_servers
    transactions = consume(bootstrap, project_topics["transactions"].name, 300)
    assert len(transactions) == 300
    partitions: dict[bytes, set[int]] = defaultdict(set)
    last_seen: dict[bytes, datetime] = {}
    for partition, key, value in transactions:
        tx = decode_transaction(value)
        assert key == tx.account_id.encode()
        partitions[key].add(partition)
        assert key not in last_seen or last_seen[key] <= tx.timestamp
        last_seen[key] = tx.timestamp
    assert all(len(p) == 1 for p in partitions.values())
    labels = consume(bootstrap, project_topics["labels"].name, tally.labels)
    assert len(labels) == tally.labels > 0
    assert all(decode_label(value).is_fraud for _p, _k, value in labels)
