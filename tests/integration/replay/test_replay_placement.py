"""Replay places records as the agents do: over a range holding a transaction the agents
forwarded home (the original and its copy), a keyless one and a mis-keyed one, it decides
each transaction once, where the agents decided it, and counts the rest by the agents'
reason."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from decision_core.placement import FORWARDED, KEY_MISSING, KEY_NOT_ACCOUNT, STILL_MISPLACED
from ledger_sink.writer import LedgerWriter
from replay.service import ReplayRequest, replay
from replay.settings import ReplaySettings
from replay.source import Selection
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.partitioning import home_partition
from schemas.topics import TRANSACTIONS
from tests.support.agents import (
    Workers,
    produce,
    produce_as_a_default_client,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_replay_decides_each_transaction_once_where_the_agents_did(
    agents: tuple[str, Workers],
    ledger: str,
    tmp_path: Path,
) -> None:
    prefix, workers = agents
    workers.start()
    txs = transactions(accounts=4, per_account=6)
    produce(prefix, txs[:12])  # murmur2: home
    gateway = txs[12:]  # librdkafka's default partitioner: most accounts elsewhere
    keyless = dataclasses.replace(txs[0], transaction_id=str(uuid.uuid4()))
    miskeyed = dataclasses.replace(txs[1], transaction_id=str(uuid.uuid4()))
    landed = produce_as_a_default_client(
        f"{prefix}{TRANSACTIONS.name}",
        [*((tx.account_id.encode(), tx) for tx in gateway), (None, keyless), (b"x", miskeyed)],
    )
    away = [
        tx
        for tx in gateway
        if landed[tx.transaction_id]
        != home_partition(tx.account_id.encode(), TRANSACTIONS.partitions)
    ]
    assert away, "CRC32 put every account on its murmur2 partition: the test proves nothing"
    live = wait_for_decisions(prefix, {tx.transaction_id for tx in txs})
    writer = LedgerWriter(ledger)
    writer.write(live)
    writer.close()

    settings = ReplaySettings(
        workers=2,
        kafka=KafkaConnection(topic_prefix=prefix),
        postgres=PostgresConnection(dsn=SecretStr(ledger)),
    )
    request = ReplayRequest(selection=Selection(warmup_ms=None), registry=tmp_path / "models")
    report = replay(request, settings).report

    # Read: every transaction, the forwarded ones twice (original and copy), the two
    # badly keyed ones. Replayed: each transaction once, as the agents' ledger has it.
    assert report["totals"] == {
        "read": len(txs) + len(away) + 2,
        "warmed": 0,
        "replayed": len(txs),
        "invalid": 2,
        "duplicates": 0,
        "forwarded_skipped": len(away),
        "misplaced_rejected": 2,
        "in_ledger": len(txs),
        "missing_from_ledger": 0,
        "changed": 0,
    }
    assert report["placement"] == {
        FORWARDED: len(away),
        KEY_MISSING: 1,
        KEY_NOT_ACCOUNT: 1,
        STILL_MISPLACED: 0,
    }
    # Same features, same model: the same scores as the agents gave.
    live_scores, replay_scores = report["scores"]["live"], report["scores"]["replay"]
    assert live_scores["quantiles"] == replay_scores["quantiles"]
    assert live_scores["mean"] == pytest.approx(replay_scores["mean"])
