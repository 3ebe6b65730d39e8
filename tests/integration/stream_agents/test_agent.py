"""A real agent worker on the real broker: decisions, features, dead letters, state."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from schemas.codec import decode_dead_letter
from schemas.records import decision_id_for
from schemas.topics import DEAD_LETTER, TRANSACTIONS
from stream_agents.datadir import CLUSTER_FILE
from tests.support.agents import (
    BOOTSTRAP,
    SENTINEL,
    Workers,
    changelog_states,
    produce,
    read_topic,
    replayed_states,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_transaction_gets_exactly_one_decision_from_the_stream_features(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    # Through the CLI, as the image's manifests run it; the other suites use the lean entry.
    workers.start(command=(SENTINEL, "agents", "run"))
    txs = transactions(accounts=12, per_account=15)
    produce(prefix, txs)
    decisions = wait_for_decisions(prefix, {t.transaction_id for t in txs})

    assert sorted(d.transaction_id for d in decisions) == sorted(t.transaction_id for t in txs)
    assert all(d.decision_id == decision_id_for(d.transaction_id) for d in decisions)
    assert {d.model_version for d in decisions} == {"tiny-1"}
    last = {
        d.account_id: d
        for d in decisions
        if d.transaction_id in {t.transaction_id for t in txs[-12:]}
    }
    assert {d.features["count_1h"] for d in last.values()} == {15.0}
    # Its folder's table store names the cluster it is a copy of (stream_agents.datadir).
    folder = Path(workers.env["SENTINEL_AGENTS_DATA_DIR"]) / "worker-0"
    cluster = AdminClient({"bootstrap.servers": BOOTSTRAP}).list_topics(timeout=10).cluster_id
    assert (folder / CLUSTER_FILE).read_text() == f"{cluster}\n" and cluster
    workers.stop_all()  # a clean stop commits and flushes the changelog
    assert changelog_states(prefix) == replayed_states(prefix)


def test_an_undecodable_record_is_dead_lettered_and_the_stream_goes_on(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.start()
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    producer.produce(f"{prefix}{TRANSACTIONS.name}", b"not avro at all", b"acct-x")
    producer.flush(10)
    txs = transactions(accounts=2, per_account=3)
    produce(prefix, txs)
    wait_for_decisions(prefix, {t.transaction_id for t in txs})
    [letter] = [decode_dead_letter(m.value()) for m in read_topic(f"{prefix}{DEAD_LETTER.name}")]
    assert letter.value == b"not avro at all"
    assert letter.error_code == "malformed_message"
