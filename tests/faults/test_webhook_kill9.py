"""SIGKILL of a dispatcher process while deliveries wait for their retries, then a restart:
the schedule lives in Kafka (webhooks.retry, due time in a header), so every event still
reaches the receiver, which accepts each exactly once (it drops repeats by event id)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest
from psycopg import AsyncConnection

from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import subscriptions
from schemas.codec import encode_webhook_event
from schemas.records import Outcome
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    SENTINEL,
    migrated_database,
    produce,
    stop_gracefully,
    wait_until,
)
from tests.support.receiver import LOCAL_ENV, LOCAL_POLICY, Receiver

pytestmark = [pytest.mark.faults, pytest.mark.slow]

SECRET = "whsec_fault_0123456789"
EVENTS = 30


def dispatcher(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([SENTINEL, "webhooks", "run"], env=env, stdout=out, stderr=out)


def test_a_killed_dispatcher_restarts_and_every_event_is_accepted_once(
    project_topics: dict[str, TopicSpec], tmp_path: Path
) -> None:
    events = [
        webhook_event(decision(transaction(f"acct-{n % 5}", "3.00"), Outcome.DECLINE))
        for n in range(EVENTS)
    ]
    log = tmp_path / "dispatcher.log"
    with migrated_database() as dsn, Receiver(SECRET, fail_first=2) as receiver:

        async def subscribe() -> None:
            async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
                await subscriptions.create(
                    conn, receiver.url, ["decision.*"], SECRET, policy=LOCAL_POLICY
                )

        asyncio.run(subscribe())
        produce(
            project_topics["webhooks"].name,
            [(e.account_id.encode(), encode_webhook_event(e)) for e in events],
        )
        env = {
            **os.environ,
            "SENTINEL_KAFKA_TOPIC_PREFIX": project_topics["webhooks"].name.removesuffix("webhooks"),
            "SENTINEL_POSTGRES_DSN": dsn,
            **LOCAL_ENV,
            "SENTINEL_WEBHOOKS_INSTANCE_ID": "dispatcher-0",
            "SENTINEL_WEBHOOKS_BACKOFF_BASE_S": "1.0",
            "SENTINEL_WEBHOOKS_BACKOFF_MAX_S": "2.0",
            "SENTINEL_WEBHOOKS_BREAKER_FAILURES": "1000",
            "SENTINEL_WEBHOOKS_COMMIT_INTERVAL_S": "0.2",
        }
        first = dispatcher(env, log)
        try:
            # Every event failed once: its second attempt now waits in webhooks.retry.
            # 60 s: the dispatcher's start and group join, on a machine the other suites load.
            assert wait_until(lambda: receiver.total_attempts() >= EVENTS, 60), log.read_text()
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        assert len(receiver.accepted) < EVENTS, "all accepted before the kill"

        second = dispatcher(env, log)
        try:
            assert wait_until(lambda: len(receiver.accepted) == EVENTS, 60), log.read_text()[-3000:]
        finally:
            assert stop_gracefully(second) == 0, log.read_text()[-3000:]
        assert receiver.accepted == {e.event_id: 1 for e in events}
        assert receiver.bad_signatures == 0
        assert all(receiver.attempts[e.event_id] >= 3 for e in events)
