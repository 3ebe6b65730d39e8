"""The decision waiter on the real broker: a decision reaches its waiter when it arrives,
and only the partitions waited on are read.

Before, the waiter read with ``consume(500, timeout)``, which librdkafka returns only with
500 messages or at the timeout: below 500 decisions per timeout each waited for the
timeout's end. The bounds below are behaviour, not speed: with an idle poll of 2 s, five
decisions awaited one after the other take at least 8 s if each waits for a poll to end,
and a few milliseconds each if it does not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from ingest_api.decision_waiter import DecisionWaiter
from ledger_sink.testing import decision, transaction
from schemas import kafka_edge
from schemas.codec import encode_decision
from schemas.connections import KafkaConnection
from schemas.partitioning import home_partition
from schemas.records import Decision
from schemas.topics import DECISIONS, HEADER_TRANSACTION_ID

pytestmark = pytest.mark.integration

IDLE_POLL_S = 2.0


LINGER_S = 1.0


@pytest.fixture
def waiter(topic_prefix: str) -> Iterator[DecisionWaiter]:
    waiter = DecisionWaiter(
        KafkaConnection(topic_prefix=topic_prefix), idle_poll_s=IDLE_POLL_S, linger_s=LINGER_S
    )
    assert waiter.ready(30)
    yield waiter
    waiter.close()


@pytest.fixture(scope="module")
def producer() -> Iterator[Producer]:
    # The agents' producer settings: decisions placed by the account, with Java's murmur2.
    producer = kafka_edge.producer(KafkaConnection())
    yield producer
    producer.flush(10)


async def let_go(waiter: DecisionWaiter) -> None:
    """Until the waiter reads no partition (its linger over), for at most ten lingers."""
    deadline = time.monotonic() + 10 * LINGER_S
    while waiter.followed() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def publish(producer: Producer, topic_prefix: str, decisions: list[Decision]) -> None:
    """Decisions as the agents publish them: keyed by account, the transaction id header."""
    for made in decisions:
        producer.produce(
            f"{topic_prefix}{DECISIONS.name}",
            encode_decision(made),
            made.account_id.encode(),
            headers=[(HEADER_TRANSACTION_ID, made.transaction_id.encode())],
        )
    producer.flush(10)


async def test_each_decision_is_handed_over_on_arrival_not_at_the_end_of_a_poll(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    started = time.monotonic()
    for n in range(5):
        made = decision(transaction(f"acct-waiter-{n}"))
        future = await waiter.expect(made.transaction_id, made.account_id)
        publish(producer, topic_prefix, [made])
        got = await asyncio.wait_for(future, 10)
        assert got.decision_id == made.decision_id
    assert time.monotonic() - started < 4 * IDLE_POLL_S / 2


async def test_a_burst_of_decisions_reaches_every_waiter_and_skips_the_others(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    made = [decision(transaction(f"acct-burst-{n % 7}")) for n in range(300)]
    awaited = made[::2]  # nobody here waits for the other half
    futures = [await waiter.expect(d.transaction_id, d.account_id) for d in awaited]
    publish(producer, topic_prefix, made)
    got = await asyncio.wait_for(asyncio.gather(*futures), 20)
    assert [d.decision_id for d in got] == [d.decision_id for d in awaited]


async def test_only_the_partitions_of_the_accounts_waited_on_are_read_until_the_linger_ends(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    assert waiter.followed() == []  # nobody waits: nothing is read
    made = [decision(transaction(f"acct-follow-{n}")) for n in range(2)]
    homes = sorted({home_partition(d.account_id.encode(), DECISIONS.partitions) for d in made})
    futures = [await waiter.expect(d.transaction_id, d.account_id) for d in made]
    assert waiter.followed() == homes
    publish(producer, topic_prefix, made)
    got = await asyncio.wait_for(asyncio.gather(*futures), 10)
    assert [d.decision_id for d in got] == [d.decision_id for d in made]
    # Answered, each waiter has left: its partition is still read for the linger, then not.
    assert waiter.followed() == homes
    await let_go(waiter)
    assert waiter.followed() == []
    # Waited on again, a partition let go is read again from its new end.
    again = decision(transaction("acct-follow-0"))
    future = await waiter.expect(again.transaction_id, again.account_id)
    publish(producer, topic_prefix, [again])
    assert (await asyncio.wait_for(future, 10)).decision_id == again.decision_id


async def test_a_forgotten_waiter_lets_its_partition_go_and_a_late_decision_answers_nobody(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    made = decision(transaction("acct-forgotten"))
    future = await waiter.expect(made.transaction_id, made.account_id)
    waiter.forget(made.transaction_id)  # the call's deadline passed
    publish(producer, topic_prefix, [made])
    await let_go(waiter)
    assert waiter.followed() == [] and not future.done()


async def test_a_second_wait_for_the_same_id_replaces_the_first_and_still_lets_go(
    waiter: DecisionWaiter,
) -> None:
    made = decision(transaction("acct-twice"))
    first = await waiter.expect(made.transaction_id, made.account_id)
    await waiter.expect(made.transaction_id, made.account_id)
    waiter.forget(made.transaction_id)
    await let_go(waiter)
    assert waiter.followed() == [] and not first.done()
