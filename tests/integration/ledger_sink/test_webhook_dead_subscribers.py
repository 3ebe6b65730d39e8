"""Dead subscribers beside a live one, against the real broker and database: the live
subscriber's deliveries never wait for the dead ones' parked batches to be stored, and
every event still ends up either delivered or parked; the dispatcher's consumer hands
records over as soon as there are any."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from ledger_sink.webhooks import parking, retry_records
from ledger_sink.webhooks.kafka_edge import AsyncConsumer
from ledger_sink.webhooks.offsets import OffsetTracker
from schemas.codec import decode_webhook_event
from schemas.connections import KafkaConnection
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    dispatcher_thread,
    produce,
    read_all,
    wait_until,
)
from tests.integration.ledger_sink.test_webhook_delivery import (
    SECRET,
    events,
    publish,
    settings,
    subscribe,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration


def refused_url(name: str) -> str:
    """A loopback URL nothing listens on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


@pytest.fixture
def dead_urls() -> Iterator[list[str]]:
    yield [refused_url(f"dead-{n}") for n in range(3)]


def parked_and_retried(retry_topic: str) -> set[tuple[str, str]]:
    """(subscription id, event id) of every delivery in the retry topic: in parked batches
    and in single retries."""
    found = set()
    for record in read_all(retry_topic):
        sub_id = retry_records.parse(record.headers).subscription_id
        values = (
            [e.event_bytes for e in parking.decode(record.value or b"")]
            if parking.is_batch(record)
            else [record.value or b""]
        )
        found.update((sub_id, decode_webhook_event(v).event_id) for v in values)
    return found


def test_the_live_subscriber_is_not_held_back_by_dead_ones_parked_batches(
    project_topics: dict[str, TopicSpec], ledger_db: str, dead_urls: list[str]
) -> None:
    batch = events(300)
    retry_topic = project_topics["webhooks.retry"].name
    with Receiver(SECRET, keep_alive=True) as live:
        dead = [subscribe(ledger_db, url, ["*"]) for url in dead_urls]
        subscribe(ledger_db, live.url, ["*"])
        publish(project_topics, batch)
        config = settings(
            project_topics,
            ledger_db,
            breaker_failures=1,  # the first refusal opens a dead subscriber's circuit...
            breaker_cooldown_s=600.0,  # ...for the whole test: the rest is parked
            park_flush_s=20.0,  # parked batches stored only long after the live deliveries
            max_pending=20,  # fewer records in hand than events: the pump must move on
            batch_size=10,
            # The dead ones refuse at once; the live one must not be timed out (and, with
            # one failure opening a circuit, parked for the test) on a loaded machine.
            request_timeout_s=5.0,
        )
        with dispatcher_thread(config):
            # Every event reaches the live subscriber while the dead ones' batches are
            # still open: the records waiting for them do not hold the consumer.
            assert wait_until(lambda: live.count() == len(batch), 15), live.count()
            assert not any(parking.is_batch(r) for r in read_all(retry_topic))
            # Nothing is lost: each dead subscriber's deliveries are parked (the flush
            # stores them) or, the first few, in single retries.
            wanted = {(sub_id, e.event_id) for sub_id in dead for e in batch}
            assert wait_until(lambda: parked_and_retried(retry_topic) >= wanted, 40, 1.0)
        assert live.bad_signatures == 0 and live.duplicates == 0


async def test_the_consumer_hands_over_a_record_without_waiting_for_a_full_batch(
    project_topics: dict[str, TopicSpec],
) -> None:
    topic = project_topics["webhooks"].name
    prefix = topic.removesuffix("webhooks")
    consumer = AsyncConsumer(KafkaConnection(), f"{prefix}edge-test", topic, OffsetTracker())
    try:
        produce(topic, [(b"k", b"one record")])
        # A batch of 500 with a minute to fill it: the one record comes back as soon as
        # the group has joined, not when the minute is up.
        records: list[object] = []
        async with asyncio.timeout(40):
            while not records:
                records = list(await consumer.poll(500, 60.0))
        assert [r.value for r in records] == [b"one record"]  # type: ignore[attr-defined]
    finally:
        await consumer.close()
