"""The real broker: project topics, keyed records over several partitions, a consumer group."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from confluent_kafka import Consumer, Message, Producer

from deploy.topics import TopicAdmin, apply
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec

pytestmark = pytest.mark.integration

ACCOUNTS = [f"acct-{n}" for n in range(40)]
PER_ACCOUNT = 15


def produce_keyed(bootstrap: str, topic: str) -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 5,
        }
    )
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for seq in range(PER_ACCOUNT):
        for account in ACCOUNTS:
            producer.produce(topic, key=account, value=f"{account}:{seq}", on_delivery=on_delivery)
    assert producer.flush(30) == 0
    assert failures == []


def join_group(bootstrap: str, topic: str, group: str, members: int) -> list[Consumer]:
    """Consumers of one group, returned once every member holds a share of the partitions."""
    consumers = [
        Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        for _ in range(members)
    ]
    for consumer in consumers:
        consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    while not all(c.assignment() for c in consumers) and time.monotonic() < deadline:
        for consumer in consumers:
            assert consumer.consume(num_messages=1, timeout=0.1) == []
    assert all(c.assignment() for c in consumers), "the group never shared its partitions"
    return consumers


def drain(consumers: list[Consumer], expected: int) -> dict[int, list[Message]]:
    """Poll every member until ``expected`` records arrived; commit after each batch."""
    received: dict[int, list[Message]] = defaultdict(list)
    deadline = time.monotonic() + 60
    while sum(map(len, received.values())) < expected and time.monotonic() < deadline:
        for index, consumer in enumerate(consumers):
            batch = consumer.consume(num_messages=500, timeout=0.2)
            assert all(msg.error() is None for msg in batch)
            received[index].extend(batch)
            if batch:
                consumer.commit(asynchronous=False)
    for consumer in consumers:
        consumer.close()
    return received


def test_keyed_records_keep_per_account_order_across_a_consumer_group(
    kafka_connection: KafkaConnection, project_topics: dict[str, TopicSpec], unique: str
) -> None:
    topic = project_topics["transactions"].name
    bootstrap = kafka_connection.bootstrap_servers
    group = join_group(bootstrap, topic, f"test-{unique}", members=2)
    produce_keyed(bootstrap, topic)

    expected = len(ACCOUNTS) * PER_ACCOUNT
    by_member = drain(group, expected)

    assert all(by_member[index] for index in range(2)), "both members consumed"
    received = [msg for batch in by_member.values() for msg in batch]
    assert len(received) == expected
    partitions: dict[str, set[int]] = defaultdict(set)
    sequences: dict[str, list[int]] = defaultdict(list)
    for msg in received:
        account = msg.key().decode()
        partitions[account].add(msg.partition())
        sequences[account].append(int(msg.value().decode().split(":")[1]))
    assert all(len(parts) == 1 for parts in partitions.values())
    assert len({p for parts in partitions.values() for p in parts}) > 1
    assert all(seqs == list(range(PER_ACCOUNT)) for seqs in sequences.values())


def test_committed_group_offsets_are_not_delivered_again(
    kafka_connection: KafkaConnection, project_topics: dict[str, TopicSpec], unique: str
) -> None:
    topic = project_topics["decisions"].name
    bootstrap = kafka_connection.bootstrap_servers
    group = f"test-{unique}"
    members = join_group(bootstrap, topic, group, members=1)
    produce_keyed(bootstrap, topic)
    expected = len(ACCOUNTS) * PER_ACCOUNT
    assert len(drain(members, expected)[0]) == expected

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    consumer.subscribe([topic])
    try:
        again = [m for _ in range(10) for m in consumer.consume(num_messages=100, timeout=0.3)]
    finally:
        consumer.close()
    assert [m for m in again if m.error() is None] == []


def test_apply_is_idempotent_and_reports_drift_without_deleting(
    topic_admin: TopicAdmin, project_topics: dict[str, TopicSpec], unique: str
) -> None:
    specs = list(project_topics.values())
    assert {r.status for r in apply(topic_admin, specs)} == {"ok"}

    odd = TopicSpec(f"test-{unique}.odd", 2, "drift probe", {"cleanup.policy": "delete"})
    topic_admin.create([odd.fit_to_cluster(1)])
    try:
        wanted = TopicSpec(odd.name, 4, "drift probe", {"cleanup.policy": "compact"})
        [report] = apply(topic_admin, [wanted])
        assert report.status == "drift"
        assert report.drift == (
            "partitions 2, declared 4",
            "cleanup.policy=delete, declared compact",
        )
        assert topic_admin.observe([odd.name])[odd.name].partitions == 2
    finally:
        topic_admin.delete([odd.name])


def test_the_broker_refuses_to_auto_create_topics(
    kafka_connection: KafkaConnection, unique: str
) -> None:
    producer = Producer(
        {"bootstrap.servers": kafka_connection.bootstrap_servers, "message.timeout.ms": 3000}
    )
    errors: list[str] = []
    producer.produce(
        f"test-{unique}.undeclared",
        value=b"x",
        on_delivery=lambda err, _msg: errors.append(str(err)),
    )
    producer.flush(10)
    assert errors and errors[0] != "None"


def test_deleting_a_topic_that_is_gone_counts_as_deleted(
    topic_admin: TopicAdmin, unique: str
) -> None:
    """Two teardowns may both own a topic (the agents' changelog: declared, and made by a
    worker's table): the second delete must not fail the test."""
    spec = TopicSpec(f"test-{unique}.gone", 1, "deleted twice").fit_to_cluster(1)
    topic_admin.create([spec])
    topic_admin.delete([spec.name, spec.name])
    topic_admin.delete([spec.name])
    assert spec.name not in topic_admin.admin.list_topics(timeout=10).topics
