"""Following compacted topics whole, from the beginning, in a daemon thread (confluent-kafka).

No consumer group: every process that follows a topic sees every record of it, whichever
partitions it owns otherwise. The agents follow the reference topics (rules, lists,
accounts, merchant risk) and the models topic this way into the decision code's holders
(``decision_core.reference.ReferenceData``, ``decision_core.live_models.ModelBook``), so a
rule published by the admin API applies to the next micro-batch without a restart; replay
reads the reference topics the same way, once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, KafkaException, Message, TopicPartition

from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError

log = logging.getLogger("schemas.follower")
_IDLE_FETCH_WAIT_MS = 500


class TopicFollower:
    """Consumes compacted topics whole, from the beginning, in a daemon thread.

    ``apply(role, key, value)`` runs in that thread for every record; a record it cannot use
    (SchemaError, ValueError) is logged and skipped, and the thread goes on. ``on_record(role)``
    is called after each record, used or skipped (the agents count them).
    """

    def __init__(
        self,
        kafka: KafkaConnection,
        roles: Mapping[str, str],
        apply: Callable[[str, bytes | None, bytes | None], None],
        name: str = "reference",
        on_record: Callable[[str], None] = lambda _role: None,
    ) -> None:
        self.roles = dict(roles)  # topic name -> role
        self._apply_record = apply
        self._on_record = on_record
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._consumer = kafka_edge.consumer(
            kafka,
            # Required by the client; never joined, partitions are assigned directly.
            f"sentinel-{name}-{uuid.uuid4().hex}",
            # The broker answers a fetch at its first byte (fetch.min.bytes 1), so a new rule
            # or model arrives as soon as it is published whatever this is; it only sets how
            # often an idle fetch over every followed partition is sent (two a second, was
            # twenty at 50 ms, for each follower of each agent worker).
            **{"fetch.wait.max.ms": _IDLE_FETCH_WAIT_MS},
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self, timeout_s: float = 60.0) -> bool:
        """Start following; True once everything published before now has been applied,
        False after ``timeout_s`` or as soon as the thread has died (a missing topic)."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.caught_up.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
            if not self._thread.is_alive() or time.monotonic() >= deadline:
                return False
        return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        try:
            remaining = self._assign()
            while not self._stop.is_set():
                for msg in self._consumer.consume(num_messages=500, timeout=0.1):
                    if msg.error() is None:
                        self._apply(msg)
                        _mark(remaining, msg)
                if not remaining:
                    self.caught_up.set()
        finally:
            self._consumer.close()

    def _assign(self) -> dict[tuple[str, int], int]:
        """Assign every partition from the start; return the end offsets still to reach."""
        metadata = self._consumer.list_topics(timeout=30).topics
        parts, remaining = [], {}
        for topic in self.roles:
            if topic not in metadata:
                log.error("topic %s does not exist: run `sentinel topics apply`", topic)
                raise RuntimeError(f"topic {topic} does not exist")
            for partition in metadata[topic].partitions:
                parts.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                high = self._end_offset(TopicPartition(topic, partition))
                if high > 0:
                    remaining[(topic, partition)] = high
        self._consumer.assign(parts)
        return remaining

    def _end_offset(self, partition: TopicPartition, timeout_s: float = 30.0) -> int:
        # A topic created a moment ago may have no leader yet (NOT_LEADER_FOR_PARTITION):
        # retry until the timeout rather than let the thread die on a transient error.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return int(self._consumer.get_watermark_offsets(partition, timeout=5)[1])
            except KafkaException:
                if time.monotonic() >= deadline or self._stop.is_set():
                    raise
                time.sleep(0.2)

    def _apply(self, msg: Message) -> None:
        role = self.roles[msg.topic() or ""]
        try:
            self._apply_record(role, msg.key(), msg.value())
        except (SchemaError, ValueError) as exc:
            log.warning("skipping bad %s record at offset %s: %s", role, msg.offset(), exc)
        self._on_record(role)


def _mark(remaining: dict[tuple[str, int], int], msg: Message) -> None:
    key = (msg.topic() or "", msg.partition() or 0)
    if key in remaining and (msg.offset() or 0) + 1 >= remaining[key]:
        del remaining[key]
