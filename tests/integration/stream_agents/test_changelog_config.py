"""The feature table's changelog, as a real worker creates it, carries the declared config."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from deploy.topics import TopicAdmin, apply, drift
from schemas.connections import KafkaConnection
from schemas.topics import FEATURE_CHANGELOG, declared_topics
from tests.support.agents import (
    BOOTSTRAP,
    Workers,
    agent_env,
    changelog_topic,
    delete_topics,
    produce,
    transactions,
    wait_for_decisions,
)
from tests.support.models import announce_model, train_tiny_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_worker_creates_its_changelog_compacted_with_rolling_segments(tmp_path: Path) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    admin = TopicAdmin(KafkaConnection(bootstrap_servers=BOOTSTRAP))
    changelog = changelog_topic(prefix)
    declared = {spec.name: spec for spec in declared_topics(prefix)}
    assert changelog in declared  # `sentinel topics apply` creates it too
    # Everything but the changelog, so that the worker (faust) creates it.
    apply(admin, [spec for name, spec in declared.items() if name != changelog])
    announce_model(prefix, train_tiny_model(tmp_path / "models"))
    workers = Workers(agent_env(prefix, tmp_path / "models", tmp_path / "data"), tmp_path)
    try:
        assert changelog not in admin.admin.list_topics(timeout=10).topics
        workers.start()
        txs = transactions(accounts=3, per_account=2)
        produce(prefix, txs)
        wait_for_decisions(prefix, {t.transaction_id for t in txs})

        observed = admin.observe([changelog])[changelog]
        assert drift(declared[changelog].fit_to_cluster(admin.broker_count()), observed) == ()
        config = observed.config
        assert config["cleanup.policy"] == "compact"
        assert config["segment.ms"] == FEATURE_CHANGELOG.config["segment.ms"] == "600000"
        assert config["segment.bytes"] == str(8 * 1024 * 1024)
        assert config["min.cleanable.dirty.ratio"] == "0.2"
        # ... and `topics apply` finds it as declared.
        status = {report.name: report.status for report in apply(admin, declared.values())}
        assert status[changelog] == "ok"
    finally:
        workers.stop_all()
        delete_topics(prefix)
