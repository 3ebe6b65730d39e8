"""The pipeline's stages as consumer groups, and how far behind each one is (its lag).

One definition for every reader of lag: the terminal view (`sentinel pipeline view`,
``deploy/local/view.py``) and the console's Overview. A stage is a consumer group and the
topic it consumes; its lag is the records of that topic past the group's committed offsets.

Committed offsets are read with a consumer that *names* the group but never joins it
(``committed``) and never commits: no pipeline group's offsets move, no rebalance is
triggered. Not the admin API: on a brand-new cluster its call crashed the process in
librdkafka.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.topics import (
    AGENTS_APP_ID,
    DECISIONS,
    LABELS,
    REVIEWS,
    TRANSACTIONS,
    WEBHOOKS,
    WEBHOOKS_RETRY,
)

# stage -> (consumer group, the topic it consumes); both get the topic prefix. The groups
# are the services' defaults (stream_agents.app.group_id, LedgerSettings.group_id, ...).
STAGES: dict[str, tuple[str, str]] = {
    "agents": (AGENTS_APP_ID, TRANSACTIONS.name),
    "ledger sink": ("ledger-sink", DECISIONS.name),
    "webhooks": ("webhook-dispatcher", WEBHOOKS.name),
    "webhook retries": ("webhook-retry", WEBHOOKS_RETRY.name),
    "reviews sink": ("reviews-sink", REVIEWS.name),
    "labels sink": ("labels-sink", LABELS.name),
}


@dataclass(frozen=True, slots=True)
class StageLag:
    """One stage's lag: ``behind`` records, None before the group's first commit (or when the
    topic does not exist yet); ``error`` when Kafka could not say."""

    stage: str
    group: str
    topic: str
    behind: int | None
    error: str | None = None

    @property
    def shown(self) -> str:
        """As a table cell: the count, "-" before any commit, "?" when unknown."""
        if self.error is not None:
            return "?"
        return "-" if self.behind is None else str(self.behind)


def records_behind(committed: Iterable[tuple[int, int]], highs: Mapping[int, int]) -> int | None:
    """Records past the committed offsets: ``committed`` is (partition, offset), a negative
    offset meaning nothing committed there; ``highs`` the partitions' high watermarks. A
    partition without a commit is not counted; None when no partition has one."""
    behind, any_commit = 0, False
    for partition, offset in committed:
        if offset < 0:
            continue
        any_commit = True
        behind += max(0, highs.get(partition, offset) - offset)
    return behind if any_commit else None


class LagReader:
    """Reads the committed offsets of the stages' groups: one consumer per group, kept.

    Not thread-safe: one caller at a time (the console runs it in one worker thread)."""

    def __init__(self, kafka: KafkaConnection, timeout_s: float = 2.0) -> None:
        self.prefix = kafka.topic_prefix
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._readers: dict[str, Consumer] = {}

    def stages(self) -> list[StageLag]:
        """Every stage of ``STAGES``, in order, with its group and topic prefixed."""
        found = []
        for stage, (group, topic) in STAGES.items():
            group, topic = f"{self.prefix}{group}", f"{self.prefix}{topic}"
            try:
                found.append(StageLag(stage, group, topic, self.lag(group, topic)))
            except KafkaException as exc:
                found.append(StageLag(stage, group, topic, None, str(exc)))
        return found

    def lag(self, group: str, topic: str) -> int | None:
        """Records of ``topic`` the ``group`` has not committed yet (None before it commits)."""
        reader = self._reader(group)
        metadata = reader.list_topics(topic, timeout=self.timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return None  # not created yet: nothing to be behind on
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        committed = reader.committed(partitions, timeout=self.timeout_s)
        highs = {
            tp.partition: reader.get_watermark_offsets(tp, timeout=self.timeout_s, cached=False)[1]
            for tp in committed
            if tp.offset >= 0
        }
        return records_behind(((tp.partition, tp.offset) for tp in committed), highs)

    def _reader(self, group: str) -> Consumer:
        reader = self._readers.get(group)
        if reader is None:
            # Never subscribes (so never joins the group) and never commits.
            reader = self._readers[group] = kafka_edge.consumer(self.kafka, group)
        return reader

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
