"""Drift between a declared topic and what the cluster reports."""

from __future__ import annotations

from deploy.topics import ObservedTopic, drift
from schemas.topics import TopicSpec

SPEC = TopicSpec("t", 6, "test", {"cleanup.policy": "compact"}, replication_factor=1)


def observed(**changes: object) -> ObservedTopic:
    base: dict[str, object] = {
        "name": "t",
        "partitions": 6,
        "replication_factor": 1,
        "config": {"cleanup.policy": "compact", "segment.bytes": "1073741824"},
    }
    base.update(changes)
    return ObservedTopic(**base)  # type: ignore[arg-type]


def test_matching_topic_has_no_drift_even_with_undeclared_broker_defaults() -> None:
    assert drift(SPEC, observed()) == ()


def test_partition_count_drift_is_reported() -> None:
    assert drift(SPEC, observed(partitions=3)) == ("partitions 3, declared 6",)


def test_config_and_replication_drift_are_reported() -> None:
    found = drift(SPEC, observed(replication_factor=2, config={"cleanup.policy": "delete"}))
    assert found == (
        "replication factor 2, declared 1",
        "cleanup.policy=delete, declared compact",
    )


def test_a_declared_key_missing_from_the_cluster_is_drift() -> None:
    assert drift(SPEC, observed(config={})) == ("cleanup.policy=None, declared compact",)
