"""The decision waiter on the real broker: a reply reaches its waiter when it arrives, and
only this process's reply partition is read, while calls wait.

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
from schemas.records import Decision
from schemas.topics import DECISION_REPLIES, HEADER_TRANSACTION_ID

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
    # The agents' producer settings.
    producer = kafka_edge.producer(KafkaConnection())
    yield producer
    producer.flush(10)


async def let_go(waiter: DecisionWaiter) -> None:
    """Until the waiter reads no partition (its linger over), for at most ten lingers."""
    deadline = time.monotonic() + 10 * LINGER_S
    while waiter.followed() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def publish(
    producer: Producer, topic_prefix: str, decisions: list[Decision], partition: int
) -> None:
    """Replies as the agents publish them: on the partition the caller named, keyed by
    account, the transaction id header."""
    for made in decisions:
        producer.produce(
            f"{topic_prefix}{DECISION_REPLIES.name}",
            encode_decision(made),
            made.account_id.encode(),
            partition=partition,
            headers=[(HEADER_TRANSACTION_ID, made.transaction_id.encode())],
        )
    producer.flush(10)


def mine(waiter: DecisionWaiter) -> int:
    assert waiter.reply_partition is not None
    return waiter.reply_partition


async def test_each_decision_is_handed_over_on_arrival_not_at_the_end_of_a_poll(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    started = time.monotonic()
    for n in range(5):
        made = decision(transaction(f"acct-waiter-{n}"))
        future = await waiter.expect(made.transaction_id)
        publish(producer, topic_prefix, [made], mine(waiter))
        got = await asyncio.wait_for(future, 10)
        assert got.decision_id == made.decision_id
    assert time.monotonic() - started < 4 * IDLE_POLL_S / 2


async def test_a_burst_of_decisions_reaches_every_waiter_and_skips_the_others(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    made = [decision(transaction(f"acct-burst-{n % 7}")) for n in range(300)]
    awaited = made[::2]  # nobody here waits for the other half
    futures = [await waiter.expect(d.transaction_id) for d in awaited]
    publish(producer, topic_prefix, made, mine(waiter))
    got = await asyncio.wait_for(asyncio.gather(*futures), 20)
    assert [d.decision_id for d in got] == [d.decision_id for d in awaited]


async def test_only_its_reply_partition_is_read_while_calls_wait_and_for_the_linger(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    assert waiter.followed() == []  # nobody waits: nothing is read
    partition = mine(waiter)
    assert 0 <= partition < DECISION_REPLIES.partitions
    made = [decision(transaction(f"acct-follow-{n}")) for n in range(2)]
    futures = [await waiter.expect(d.transaction_id) for d in made]
    assert waiter.followed() == [partition]
    # Replies on another partition (another process's) are not read.
    other = (partition + 1) % DECISION_REPLIES.partitions
    stray = decision(transaction("acct-follow-stray"))
    stray_future = await waiter.expect(stray.transaction_id)
    publish(producer, topic_prefix, [stray], other)
    publish(producer, topic_prefix, made, partition)
    got = await asyncio.wait_for(asyncio.gather(*futures), 10)
    assert [d.decision_id for d in got] == [d.decision_id for d in made]
    assert not stray_future.done()
    waiter.forget(stray.transaction_id)
    # Answered, each waiter has left: the partition is still read for the linger, then not.
    assert waiter.followed() == [partition]
    await let_go(waiter)
    assert waiter.followed() == []
    # Waited on again, the partition is read again from its new end.
    again = decision(transaction("acct-follow-0"))
    future = await waiter.expect(again.transaction_id)
    publish(producer, topic_prefix, [again], partition)
    assert (await asyncio.wait_for(future, 10)).decision_id == again.decision_id


async def test_a_forgotten_waiter_lets_its_partition_go_and_a_late_decision_answers_nobody(
    waiter: DecisionWaiter, producer: Producer, topic_prefix: str
) -> None:
    made = decision(transaction("acct-forgotten"))
    future = await waiter.expect(made.transaction_id)
    waiter.forget(made.transaction_id)  # the call's deadline passed
    publish(producer, topic_prefix, [made], mine(waiter))
    await let_go(waiter)
    assert waiter.followed() == [] and not future.done()


async def test_a_second_wait_for_the_same_id_replaces_the_first_and_still_lets_go(
    waiter: DecisionWaiter,
) -> None:
    made = decision(transaction("acct-twice"))
    first = await waiter.expect(made.transaction_id)
    await waiter.expect(made.transaction_id)
    waiter.forget(made.transaction_id)
    await let_go(waiter)
    assert waiter.followed() == [] and not first.done()
