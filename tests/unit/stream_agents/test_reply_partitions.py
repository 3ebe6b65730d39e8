"""How many ``decision-replies`` partitions a starting worker copies awaited decisions to:
the topic's, or none (with a warning) on a cluster whose topics predate it."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import ClusterMetadata, PartitionMetadata, TopicMetadata

from schemas.connections import KafkaConnection
from schemas.topics import DECISION_REPLIES
from stream_agents.settings import AgentSettings
from stream_agents.worker import reply_partitions


def cluster(name: str | None, partitions: int, error: KafkaError | None = None) -> ClusterMetadata:
    meta = ClusterMetadata()
    if name is not None:
        topic = TopicMetadata()
        topic.topic, topic.error = name, error
        topic.partitions = {p: PartitionMetadata() for p in range(partitions)}
        meta.topics = {name: topic}
    return meta


def settings(prefix: str = "") -> AgentSettings:
    return AgentSettings(kafka=KafkaConnection(topic_prefix=prefix))


def test_the_topics_partitions_under_the_prefix() -> None:
    name = f"t1.{DECISION_REPLIES.name}"
    assert reply_partitions(settings("t1."), cluster(name, 12)) == 12
    assert reply_partitions(settings("t1."), cluster(name, 3)) == 3


@pytest.mark.parametrize(
    "meta",
    [
        cluster(None, 0),
        cluster(DECISION_REPLIES.name, 12),  # another prefix's
        cluster(f"t1.{DECISION_REPLIES.name}", 0),
        cluster(f"t1.{DECISION_REPLIES.name}", 12, KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)),
    ],
)
def test_none_and_a_warning_without_the_topic(
    meta: ClusterMetadata, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="stream_agents"):
        assert reply_partitions(settings("t1."), meta) == 0
    assert "sentinel topics apply" in caplog.text
