"""The dispatcher against the real broker, database and local HTTP receivers: exactly one
accepted, correctly signed delivery per event through failures; a hanging receiver does not
stall another; exhausted deliveries are dead-lettered and a broken receiver's circuit opens."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import subscriptions
from ledger_sink.webhooks.dispatcher import EXHAUSTED
from ledger_sink.webhooks.settings import WebhookSettings
from schemas.codec import decode_dead_letter, encode_webhook_event
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Outcome, WebhookEvent
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    dispatcher_thread,
    produce,
    read_all,
    wait_until,
)
from tests.support.receiver import LOCAL_POLICY, Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec_test_0123456789abcdef"


def subscribe(dsn: str, url: str, event_types: list[str]) -> str:
    async def create() -> str:
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            made = await subscriptions.create(conn, url, event_types, SECRET, policy=LOCAL_POLICY)
            return made.subscription_id

    return asyncio.run(create())


def settings(topics: dict[str, TopicSpec], dsn: str, **changes: object) -> WebhookSettings:
    prefix = topics["webhooks"].name.removesuffix("webhooks")
    values: dict[str, object] = {
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.3,
        "request_timeout_s": 0.5,
        "poll_timeout_s": 0.05,
        "commit_interval_s": 0.2,
        "shutdown_grace_s": 1.0,
        "targets": LOCAL_POLICY,
        "kafka": KafkaConnection(topic_prefix=prefix),
        "postgres": PostgresConnection(dsn=dsn),
    }
    return WebhookSettings(**(values | changes))  # type: ignore[arg-type]


def events(count: int, outcome: Outcome = Outcome.DECLINE) -> list[WebhookEvent]:
    return [
        webhook_event(decision(transaction(f"acct-{n % 4}", "10.00"), outcome))
        for n in range(count)
    ]


def publish(topics: dict[str, TopicSpec], batch: list[WebhookEvent]) -> None:
    produce(
        topics["webhooks"].name,
        [(e.account_id.encode(), encode_webhook_event(e)) for e in batch],
    )


def test_a_receiver_failing_n_times_gets_each_event_exactly_once(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    batch = events(20)
    other = events(3, Outcome.APPROVE)  # not subscribed to: never sent
    with Receiver(SECRET, fail_first=3) as receiver:
        subscribe(ledger_db, receiver.url, ["decision.declined"])
        publish(project_topics, batch + other)
        config = settings(project_topics, ledger_db, breaker_failures=1000)
        with dispatcher_thread(config):
            assert wait_until(lambda: len(receiver.accepted) == len(batch), 30)
            time.sleep(0.5)  # nothing more may arrive
        assert receiver.accepted == {e.event_id: 1 for e in batch}
        assert receiver.attempts == {e.event_id: 4 for e in batch}  # 3 failures, 1 success
        assert receiver.bad_signatures == 0 and receiver.duplicates == 0
        assert receiver.bodies == {e.event_id: e.payload_json.encode() for e in batch}
    assert read_all(project_topics["webhooks.dead-letter"].name) == []


def test_a_hanging_receiver_does_not_stall_another(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    batch = events(40)
    with Receiver(SECRET, hang=True) as stuck, Receiver(SECRET) as healthy:
        subscribe(ledger_db, stuck.url, ["decision.*"])
        subscribe(ledger_db, healthy.url, ["*"])
        publish(project_topics, batch)
        config = settings(
            project_topics,
            ledger_db,
            request_timeout_s=5.0,
            per_subscriber_concurrency=4,
            max_concurrency=8,
        )
        with dispatcher_thread(config):
            started = time.monotonic()
            assert wait_until(lambda: len(healthy.accepted) == len(batch), 20)
            elapsed = time.monotonic() - started
            # Four hanging requests hold four slots at most: 40 deliveries to the healthy
            # receiver take well under one request timeout.
            assert elapsed < 4.0, elapsed
            assert stuck.total_attempts() <= 4


def test_exhausted_deliveries_are_dead_lettered_and_the_circuit_opens(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    batch = events(10)
    with Receiver(SECRET, always_fail=True) as broken:
        subscription_id = subscribe(ledger_db, broken.url, ["decision.declined"])
        publish(project_topics, batch)
        config = settings(
            project_topics,
            ledger_db,
            max_attempts=3,
            breaker_failures=3,
            breaker_cooldown_s=0.5,
            per_subscriber_concurrency=1,
        )
        dead_letters = project_topics["webhooks.dead-letter"].name
        with dispatcher_thread(config):
            assert wait_until(lambda: len(read_all(dead_letters)) >= 10, 30)
        # One at a time, three failures open the circuit; then the events are parked and
        # come back together, each cool-down letting one probe through: a handful of
        # requests for 10 events x 3 attempts.
        assert 3 <= broken.total_attempts() <= 8, broken.total_attempts()
    letters = [decode_dead_letter(r.value) for r in read_all(dead_letters)]
    assert len(letters) == 10
    by_event = {letter.headers["sentinel-event-id"]: letter for letter in letters}
    assert set(by_event) == {e.event_id for e in batch}
    for event in batch:
        letter = by_event[event.event_id]
        assert letter.error_code == EXHAUSTED
        assert letter.headers["sentinel-subscription-id"] == subscription_id
        assert letter.headers["sentinel-attempts"] == "3"
        assert letter.value == encode_webhook_event(event)


def stats_rows(dsn: str, subscription_id: str) -> list[dict[str, object]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM webhook_delivery_stats WHERE subscription_id = %s ORDER BY minute",
            (subscription_id,),
        ).fetchall()


def summed(rows: list[dict[str, object]], column: str) -> int:
    return sum(int(row[column]) for row in rows)  # type: ignore[call-overload]


def test_the_dispatcher_records_each_subscriptions_deliveries_in_the_stats_table(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    batch = events(6)
    with Receiver(SECRET, fail_first=2) as flaky, Receiver(SECRET) as healthy:
        flaky_id = subscribe(ledger_db, flaky.url, ["decision.declined"])
        healthy_id = subscribe(ledger_db, healthy.url, ["decision.declined"])
        publish(project_topics, batch)
        config = settings(project_topics, ledger_db, breaker_failures=1000, stats_flush_s=0.2)
        with dispatcher_thread(config):
            assert wait_until(lambda: summed(stats_rows(ledger_db, flaky_id), "successes") == 6, 30)
            assert wait_until(
                lambda: summed(stats_rows(ledger_db, healthy_id), "successes") == 6, 10
            )
    flaky_rows, healthy_rows = stats_rows(ledger_db, flaky_id), stats_rows(ledger_db, healthy_id)
    # Each event: two 503s, each scheduling a retry taken back off the retry topic, then a 204.
    assert summed(flaky_rows, "deliveries") == 18
    assert summed(flaky_rows, "failed_5xx") == 12
    assert summed(flaky_rows, "retries_scheduled") == summed(flaky_rows, "retries_taken") == 12
    assert summed(healthy_rows, "deliveries") == 6 and summed(healthy_rows, "failed_5xx") == 0
    for row in flaky_rows + healthy_rows:
        buckets = row["latency_buckets"]
        assert isinstance(buckets, list) and sum(buckets) == row["latency_count"]
        assert row["latency_count"] == row["deliveries"]
    assert flaky_rows[-1]["last_status"] == 204 and summed(flaky_rows, "dead_lettered") == 0
