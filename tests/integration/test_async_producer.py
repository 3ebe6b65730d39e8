"""The edge's AsyncProducer against the real broker, its delivery reports served by its own
thread (the default) or on the caller's event loop (``serve_on_loop_s``, the agents')."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from deploy.topics import TopicAdmin
from schemas.connections import KafkaConnection
from schemas.kafka_edge import AsyncProducer, DeliveryFailed, Outbound
from schemas.topics import TopicSpec

pytestmark = pytest.mark.integration

SERVING = {"thread": None, "loop": 0.001}


@pytest.fixture
def topic(topic_admin: TopicAdmin, unique: str) -> Iterator[str]:
    spec = TopicSpec(f"test-{unique}.published", 2, "async producer probe")
    topic_admin.create([spec.fit_to_cluster(1)])
    yield spec.name
    topic_admin.delete([spec.name])


@pytest.fixture(params=sorted(SERVING))
def serving(request: pytest.FixtureRequest, unique: str) -> tuple[str, float | None]:
    return f"probe-{unique}", SERVING[request.param]


def records(topic: str, n: int, partition: int | None = None) -> list[Outbound]:
    return [Outbound(topic, f"k{i}".encode(), b"v", partition=partition) for i in range(n)]


def test_each_publish_returns_once_the_broker_holds_all_of_it(
    kafka_connection: KafkaConnection, topic: str, serving: tuple[str, float | None]
) -> None:
    name, serve_on_loop_s = serving
    producer = AsyncProducer(kafka_connection, name, {}, serve_on_loop_s=serve_on_loop_s)

    async def run() -> list[dict[tuple[str, int], int]]:
        placed = [await producer.publish(records(topic, 50, partition=0))]
        placed.append(await producer.publish(records(topic, 30, partition=1)))
        placed.append(await producer.publish(records(topic, 20, partition=0)))
        placed.append(await producer.publish([]))
        return placed

    try:
        threads = {t.name for t in threading.enumerate()}
        assert asyncio.run(run()) == [{(topic, 0): 49}, {(topic, 1): 29}, {(topic, 0): 69}, {}]
        assert (name in threads) is (serve_on_loop_s is None)  # served on the loop: no thread
        producer.serve()  # between publishes: nothing waiting, nothing raised
    finally:
        producer.close(5)


def test_a_refused_or_unacknowledged_publish_raises_delivery_failed(
    kafka_connection: KafkaConnection, topic: str, unique: str, serving: tuple[str, float | None]
) -> None:
    name, serve_on_loop_s = serving
    producer = AsyncProducer(kafka_connection, name, {}, serve_on_loop_s=serve_on_loop_s)

    async def run() -> None:
        await producer.publish(records(topic, 1))  # the topic's metadata known from here on
        with pytest.raises(DeliveryFailed, match="produce failed"):
            await producer.publish(records(topic, 1, partition=7))  # it has two
        with pytest.raises(DeliveryFailed, match="not acknowledged within 0.5 s"):
            await producer.publish(records(f"test-{unique}.absent", 1), timeout_s=0.5)

    try:
        asyncio.run(run())
    finally:
        producer.close(0)
