"""Reads the records of a hole in the agent's input straight from the broker.

The agent's consumer is faust's; when ``continuity.find_gaps`` finds offsets it skipped,
this librdkafka consumer (no group, nothing committed) reads exactly that range so the
agent can apply it before the records that revealed it. Holes are rare (a rebalance
race, or transaction markers), so a blocking read here costs nothing in steady state.
"""

from __future__ import annotations

import logging
import time
import uuid

from confluent_kafka import Consumer, Message, TopicPartition

from schemas.connections import KafkaConnection
from stream_agents.continuity import Gap
from stream_agents.pipeline import SourceRecord

log = logging.getLogger("stream_agents.repair")


class GapReadError(RuntimeError):
    """The broker did not return a hole's range in time: the worker stops rather than skip."""


class GapReader:
    """A consumer assigned, on demand, to one partition range of the transactions topic."""

    def __init__(self, kafka: KafkaConnection, topic: str, timeout_s: float = 30.0) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                # Required by the client; never joined: partitions are assigned directly.
                "group.id": f"sentinel-agent-repair-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                # An aborted transaction's records were never meant to be decided.
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
            }
        )

    def read(self, gap: Gap) -> list[SourceRecord]:
        """The records with offsets in [gap.start, gap.end); markers have none."""
        self._consumer.assign([TopicPartition(self.topic, gap.partition, gap.start)])
        found: list[SourceRecord] = []
        deadline = time.monotonic() + self.timeout_s
        try:
            # The record at gap.end exists (it revealed the hole): read until it shows up.
            while time.monotonic() < deadline:
                for msg in self._consumer.consume(num_messages=500, timeout=0.2):
                    if msg.error() is not None:
                        continue
                    offset = msg.offset() or 0
                    if offset >= gap.end:
                        return found
                    if offset >= gap.start:
                        found.append(_record(self.topic, gap.partition, msg))
        finally:
            self._consumer.unassign()
        raise GapReadError(f"could not read {self.topic}[{gap.partition}] {gap.start}..{gap.end}")

    def close(self) -> None:
        self._consumer.close()


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
