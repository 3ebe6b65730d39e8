"""Reads the records of a hole in the agent's input straight from the broker.

The agent's consumer is faust's; when ``continuity.find_gaps`` finds offsets it skipped,
this librdkafka consumer (no group, nothing committed) reads exactly that range so the
agent can apply it before the records that revealed it. Holes are rare (a rebalance
race, or transaction markers), so a blocking read here costs nothing in steady state.

Holes at a partition's start (records faust dropped before the first one it delivered,
where nothing was applied yet) are measured from the partition's log start (``log_start``).
A hole at the end of a partition has no later record to reveal it; the agent's sweep
(``stream_agents.app``) finds it by comparing what the consumer group has committed with
the partition's applied mark, read here with a second consumer that only asks the group
coordinator (it never joins the group, is assigned nothing and commits nothing), and by
comparing each partition's end (``ends``) with its progress: past the mark and, under
at_least_once, committed (``continuity.StallWatch``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from decision_core.records import SourceRecord
from schemas.connections import KafkaConnection
from stream_agents.continuity import Gap

log = logging.getLogger("stream_agents.repair")


class GapReadError(RuntimeError):
    """The broker did not return a hole's range in time: the worker stops rather than skip."""


class GapReader:
    """A consumer assigned, on demand, to one partition range of the transactions topic."""

    def __init__(
        self, kafka: KafkaConnection, topic: str, group_id: str, timeout_s: float = 30.0
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._group = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "group.id": group_id,
                "enable.auto.commit": False,
                # Partition ends up to the last stable offset (``ends``).
                "isolation.level": "read_committed",
            }
        )
        self._consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                # Required by the client; never joined: partitions are assigned directly.
                "group.id": f"sentinel-agent-repair-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                # An aborted transaction's records were never meant to be decided.
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
                # A hole from a partition's log start that retention has since moved on:
                # read what is left of it, never jump to the end.
                "auto.offset.reset": "earliest",
            }
        )
        self._log_starts: dict[int, int] = {}

    def read(self, gap: Gap) -> list[SourceRecord]:
        """The records with offsets in [gap.start, gap.end); markers have none."""
        where = TopicPartition(self.topic, gap.partition)
        self._consumer.assign([TopicPartition(self.topic, gap.partition, gap.start)])
        found: list[SourceRecord] = []
        deadline = time.monotonic() + self.timeout_s
        try:
            # Done once the position passes the hole's last offset: the position also
            # moves past transaction markers, which are never handed out as records.
            while time.monotonic() < deadline:
                for msg in self._consumer.consume(num_messages=500, timeout=0.2):
                    if msg.error() is not None:
                        continue
                    offset = msg.offset() or 0
                    if offset >= gap.end:
                        return found
                    if offset >= gap.start:
                        found.append(_record(self.topic, gap.partition, msg))
                if (self._consumer.position([where])[0].offset or 0) >= gap.end:
                    return found
        finally:
            self._consumer.unassign()
        raise GapReadError(f"could not read {self.topic}[{gap.partition}] {gap.start}..{gap.end}")

    def log_start(self, partition: int) -> int:
        """The partition's first offset (its low watermark), asked once per partition: it
        matters only until the agents have applied something there."""
        if partition not in self._log_starts:
            try:
                low, _high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=self.timeout_s
                )
            except KafkaException as exc:
                raise GapReadError(f"no log start for {self.topic}[{partition}]: {exc}") from exc
            self._log_starts[partition] = low
        return self._log_starts[partition]

    def ends(self, partitions: Iterable[int]) -> dict[int, int]:
        """Each partition's last stable offset, asked of the broker now: the offset after
        the last record a read_committed consumer can read (an open transaction's records
        are not counted; librdkafka asks with the consumer's isolation level). Asked by the
        sweep's consumer, in the sweep's thread, never the one ``read`` uses in the agent's.
        Empty when the broker does not answer: the sweep tries again at its next tick."""
        ends = {}
        for partition in partitions:
            try:
                _low, high = self._group.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=10, cached=False
                )
            except KafkaException as exc:
                log.warning("partition ends not read: %s", exc)
                return {}
            ends[partition] = high
        return ends

    def committed(self, partitions: Iterable[int]) -> dict[int, int]:
        """The next offset the agents' group will read, per partition that has one."""
        asked = [TopicPartition(self.topic, p) for p in partitions]
        if not asked:
            return {}
        try:
            answer = self._group.committed(asked, timeout=10)
        except KafkaException as exc:
            # The sweep tries again at its next tick; a broker hiccup is no reason to stop.
            log.warning("committed offsets not read: %s", exc)
            return {}
        return {tp.partition: tp.offset for tp in answer if tp.error is None and tp.offset >= 0}

    def close(self) -> None:
        self._consumer.close()
        self._group.close()


def _record(topic: str, partition: int, msg: Message) -> SourceRecord:
    _kind, timestamp_ms = msg.timestamp()
    return SourceRecord(
        topic=topic,
        partition=partition,
        offset=msg.offset() or 0,
        timestamp_ms=timestamp_ms,
        key=msg.key(),
        value=msg.value(),
        headers=_headers(msg),
    )


def _bytes(value: str | bytes | None) -> bytes:
    return value.encode() if isinstance(value, str) else (value or b"")


def _headers(msg: Message) -> tuple[tuple[str, bytes], ...]:
    pairs: list[tuple[str, str | bytes | None]] = list(msg.headers() or [])  # type: ignore[arg-type]
    return tuple((name, _bytes(value)) for name, value in pairs)
