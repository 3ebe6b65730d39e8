"""The topic declarations: names, partitioning and fitting to a small cluster."""

from __future__ import annotations

import pytest

from schemas import topics
from schemas.topics import ALL_TOPICS, TopicSpec, declared_topics


def test_names_are_unique() -> None:
    names = [spec.name for spec in ALL_TOPICS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "spec", [topics.RULES, topics.LISTS, topics.ACCOUNTS, topics.MERCHANT_RISK, topics.MODELS]
)
def test_reference_data_topics_are_compacted(spec: TopicSpec) -> None:
    assert spec.config["cleanup.policy"] == "compact"


def test_decisions_can_follow_transactions_partition_for_partition() -> None:
    # Decisions are keyed by account like transactions; equal counts keep an account's
    # transaction and decision on partitions with the same number.
    assert topics.DECISIONS.partitions == topics.TRANSACTIONS.partitions >= 6


def test_production_defaults_keep_three_copies() -> None:
    assert all(spec.replication_factor == 3 for spec in ALL_TOPICS)
    assert all(spec.config["min.insync.replicas"] == "2" for spec in ALL_TOPICS)


def test_fit_to_single_broker_caps_replicas_and_min_insync() -> None:
    fitted = topics.TRANSACTIONS.fit_to_cluster(1)
    assert fitted.replication_factor == 1
    assert fitted.config["min.insync.replicas"] == "1"
    assert fitted.config["retention.ms"] == topics.TRANSACTIONS.config["retention.ms"]


def test_fit_to_large_cluster_keeps_the_declaration() -> None:
    assert topics.TRANSACTIONS.fit_to_cluster(5) == topics.TRANSACTIONS


def test_fit_to_two_brokers_leaves_one_replica_of_slack() -> None:
    fitted = topics.DECISIONS.fit_to_cluster(2)
    assert (fitted.replication_factor, fitted.config["min.insync.replicas"]) == (2, "1")


def test_three_brokers_hold_every_declaration_as_declared() -> None:
    assert all(spec.fit_to_cluster(3) == spec for spec in ALL_TOPICS)
    assert topics.fitted_replication(3) == (3, 2)
    assert topics.fitted_replication(1) == (1, 1)


def test_prefix_applies_to_every_declared_topic() -> None:
    prefixed = declared_topics("t-1.")
    assert [s.name for s in prefixed] == [f"t-1.{s.name}" for s in ALL_TOPICS]
    assert declared_topics("") == ALL_TOPICS


def test_declared_config_is_read_only() -> None:
    with pytest.raises(TypeError):
        topics.TRANSACTIONS.config["retention.ms"] = "1"  # type: ignore[index]
