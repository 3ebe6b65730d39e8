"""Publishing a micro-batch's outputs with librdkafka: decisions, webhook events, dead
letters and the feature table's changelog records.

faust's own producer is pure Python (aiokafka) and cost more CPU per record than deciding
it (py-spy: ~40 % of the worker). librdkafka batches and compresses in C; the agent awaits
one future per micro-batch, resolved when the broker has acknowledged every record of it,
before it takes the next batch. Only then are the batch's source offsets acknowledged to
faust, so a committed offset never precedes its decisions. librdkafka's delivery reports
are served on the agent's event loop while it waits: no delivery thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from decision_core.records import Outgoing
from schemas.connections import KafkaConnection
from schemas.kafka_edge import AsyncProducer


class BatchPublisher:
    """The edge's asyncio producer (idempotent, acks=all, lz4), one future per batch."""

    def __init__(self, kafka: KafkaConnection, topics: Mapping[str, str]) -> None:
        self.topics = dict(topics)  # role -> topic name
        self._producer = AsyncProducer(
            kafka,
            "batch-publisher",
            {"compression.type": "lz4", "linger.ms": 1, "socket.nagle.disable": True},
            # Delivery reports served on the agent's loop, every 1 ms while a batch
            # waits for its acknowledgement: no thread to hand the GIL to and from.
            serve_on_loop_s=0.001,
        )

    async def publish(self, records: Sequence[Outgoing]) -> dict[tuple[str, int], int]:
        """Produce ``records``; return once the broker acknowledged all of them, with the
        highest offset acknowledged in each (topic, partition)."""
        topics = self.topics
        # A full local queue is waited out: the batch's records are already decided. Each
        # record goes as it is, its role's topic looked up (no copy per record).
        return await self._producer.publish(
            records, wait_when_full=True, topic_of=lambda out: topics[out.role]
        )

    def serve(self) -> None:
        """Serve the producer's queued reports between batches (its client errors)."""
        self._producer.serve()

    def close(self) -> None:
        self._producer.close(30)
