"""A gateway whose client keeps librdkafka's default partitioner (``consistent_random``:
CRC32 of the key), against a real agent worker: its accounts' transactions land off their
home partition (Java's murmur2, where the API put the first half of their history), are
forwarded home, and are each decided once with the features of the account's whole
history; keyless or wrongly keyed ones are dead-lettered."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections import Counter, defaultdict

import pytest

from decision_core.features.compute import replay_account
from decision_core.placement import KEY_MISSING, KEY_NOT_ACCOUNT, REPARTITIONED_FROM
from decision_core.transaction_features import FEATURE_CONFIG, feature_event
from schemas.codec import (
    decode_dead_letter,
    decode_decision,
    decode_transaction,
)
from schemas.features import FEATURE_NAMES
from schemas.partitioning import home_partition
from schemas.records import Decision, Transaction
from schemas.topics import DEAD_LETTER, DECISIONS, TRANSACTIONS
from stream_agents.checkpoint import is_mark_key
from tests.support.agents import (
    Workers,
    changelog_topic,
    produce,
    produce_as_a_default_client,
    read_topic,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PARTITIONS = TRANSACTIONS.partitions


def expected_features(txs: list[Transaction]) -> list[dict[str, float]]:
    """One account's features recomputed from its whole history in order (no profile)."""
    events = [feature_event(tx) for tx in sorted(txs, key=lambda t: t.timestamp)]
    return [
        {n: v for n, v in o.features.items() if n in FEATURE_NAMES and not math.isnan(v)}
        for o in replay_account(events, FEATURE_CONFIG)
    ]


def decided_features(decisions: list[Decision]) -> list[dict[str, float]]:
    ordered = sorted(decisions, key=lambda d: d.transaction.timestamp)
    return [{n: v for n, v in d.features.items() if n in FEATURE_NAMES} for d in ordered]


def test_a_default_partitioner_gateways_transactions_are_forwarded_home_and_decided_once(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.start()
    topic = f"{prefix}{TRANSACTIONS.name}"
    txs = transactions(accounts=6, per_account=8)
    # The first half of every account's history through murmur2 (the API's partitioner),
    # the second through the default one: without forwarding, the two halves would sit in
    # two partitions, each with features of half the history.
    produce(prefix, txs[:24])
    gateway = txs[24:]
    keyless = dataclasses.replace(txs[0], transaction_id=str(uuid.uuid4()))
    miskeyed = dataclasses.replace(txs[1], transaction_id=str(uuid.uuid4()))
    records = [(tx.account_id.encode(), tx) for tx in gateway]
    landed = produce_as_a_default_client(
        topic, [*records, (None, keyless), (b"card-4111", miskeyed)]
    )
    away = {
        tx.transaction_id
        for tx in gateway
        if landed[tx.transaction_id] != home_partition(tx.account_id.encode(), PARTITIONS)
    }
    assert away, "CRC32 put every account on its murmur2 partition: the test proves nothing"

    decisions = wait_for_decisions(prefix, {tx.transaction_id for tx in txs})

    # Each decided once, the two badly keyed ones not at all.
    counts = Counter(d.transaction_id for d in decisions)
    assert counts == Counter({tx.transaction_id: 1 for tx in txs})
    # Coherent features: each account's decisions carry its whole history, as one
    # partition in order would give them.
    by_account: dict[str, list[Decision]] = defaultdict(list)
    for decision in decisions:
        by_account[decision.account_id].append(decision)
    for account, mine in by_account.items():
        history = [tx for tx in txs if tx.account_id == account]
        assert decided_features(mine) == expected_features(history), account
    # One account, one state, in its home partition's changelog (deciding where the
    # records landed would write half-histories to two partitions: one worker's store
    # finds either, but a rebalance or a restart hands them to two).
    for msg in read_topic(changelog_topic(prefix)):
        if not is_mark_key(msg.key() or b""):
            assert msg.partition() == home_partition(msg.key() or b"", PARTITIONS)
    # Every transaction off its home partition has exactly one copy there, saying whence.
    records_now = read_topic(topic)
    copies = [m for m in records_now if m.headers()]
    stamped = {
        decode_transaction(m.value() or b"").transaction_id: m.timestamp()[1]
        for m in records_now
        if not m.headers()
    }
    copied = Counter(decode_transaction(m.value() or b"").transaction_id for m in copies)
    assert copied == Counter(away)
    for msg in copies:
        assert msg.partition() == home_partition(msg.key() or b"", PARTITIONS)
        headers = dict(msg.headers() or [])
        assert list(headers) == [REPARTITIONED_FROM]
        origin = headers[REPARTITIONED_FROM]
        assert isinstance(origin, bytes)
        tx_id = decode_transaction(msg.value() or b"").transaction_id
        assert origin.split(b"/")[0] == str(landed[tx_id]).encode()
        assert msg.timestamp()[1] == stamped[tx_id]  # the original's: same ingest time
    # librdkafka's murmur2_random (the agent's publisher, decisions keyed by account)
    # agrees with home_partition.
    for msg in read_topic(f"{prefix}{DECISIONS.name}"):
        assert msg.partition() == home_partition(msg.key() or b"", DECISIONS.partitions)
        assert decode_decision(msg.value() or b"").transaction_id in counts

    letters = [decode_dead_letter(m.value()) for m in read_topic(f"{prefix}{DEAD_LETTER.name}")]
    assert sorted(letter.error_code for letter in letters) == [KEY_MISSING, KEY_NOT_ACCOUNT]
