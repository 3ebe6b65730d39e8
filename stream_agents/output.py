"""Publishing a micro-batch's outputs with librdkafka: decisions, webhook events, dead
letters and the feature table's changelog records.

faust's own producer is pure Python (aiokafka) and cost more CPU per record than deciding
it (py-spy: ~40 % of the worker). librdkafka batches and compresses in C; the agent awaits
one future per micro-batch, resolved when the broker has acknowledged every record of it,
before it takes the next batch. Only then are the batch's source offsets acknowledged to
faust, so a committed offset never precedes its decisions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from decision_core.records import Outgoing
from schemas.connections import KafkaConnection


class BatchPublisher:
    """One librdkafka producer (idempotent, acks=all, lz4) and its delivery thread."""

    def __init__(self, kafka: KafkaConnection, topics: Mapping[str, str]) -> None:
        self.topics = dict(topics)  # role -> topic name
        self._producer = Producer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "lz4",
                "linger.ms": 1,
                "partitioner": "murmur2_random",
                "socket.nagle.disable": True,
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="batch-publisher", daemon=True)
        self._thread.start()

    async def publish(self, records: Sequence[Outgoing]) -> dict[tuple[str, int], int]:
        """Produce ``records``; return once the broker acknowledged all of them, with the
        highest offset acknowledged in each (topic, partition)."""
        offsets: dict[tuple[str, int], int] = {}
        if not records:
            return offsets
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        pending = [len(records)]
        lock = threading.Lock()

        def delivered(error: KafkaError | None, msg: Message) -> None:
            with lock:
                pending[0] -= 1
                last = pending[0] == 0
                if error is None:
                    where = (msg.topic() or "", msg.partition() or 0)
                    offsets[where] = max(offsets.get(where, -1), msg.offset() or 0)
            if error is not None:
                loop.call_soon_threadsafe(_fail, done, KafkaException(error))
            elif last:
                loop.call_soon_threadsafe(_succeed, done)

        for out in records:
            self._produce(out, delivered)
        await done
        return offsets

    def _produce(
        self, out: Outgoing, delivered: Callable[[KafkaError | None, Message], None]
    ) -> None:
        # librdkafka's defaults: -1 lets its partitioner choose, 0 stamps the time now.
        partition = -1 if out.partition is None else out.partition
        timestamp = 0 if out.timestamp_ms is None else out.timestamp_ms
        while True:
            try:
                self._producer.produce(
                    self.topics[out.role],
                    out.value,
                    out.key,
                    partition=partition,
                    timestamp=timestamp,
                    headers=list(out.headers),
                    on_delivery=delivered,
                )
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain it

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._producer.flush(30)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)


def _succeed(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(future: asyncio.Future[None], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
