"""Waits for the decision of a transaction published by this process (synchronous authorize).

Each API process reads every partition of ``decisions`` from the end, without a consumer
group, so any number of API processes can wait at once. Records carry the transaction id
in a header: a decision nobody here waits for is skipped without being decoded. A waiter
may name the content hash of the transaction it published (``schemas.fingerprint``): a
decision for another transaction that reused the id does not answer it (issue 18).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import KafkaException, TopicPartition

from schemas import kafka_edge
from schemas.codec import decode_decision
from schemas.connections import KafkaConnection
from schemas.consuming import ready_messages
from schemas.errors import SchemaError
from schemas.fingerprint import transaction_fingerprint
from schemas.kafka_edge import decode_headers
from schemas.records import Decision
from schemas.topics import DECISIONS, HEADER_TRANSACTION_ID

_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Decision]", str | None]
# How long one poll blocks with nothing to read: how soon close() is noticed, nothing else.
_IDLE_POLL_S = 0.1
_FETCH_WAIT_MS = 100
# Between two tries to find the partitions and their end offsets.
_RETRY_S = 0.1
# Most decisions handed over at once (the first as it arrives, then what is fetched).
_DRAIN_MAX = 500


class DecisionWaiter:
    """Maps transaction ids to futures and resolves them from a background consumer."""

    def __init__(self, kafka: KafkaConnection, idle_poll_s: float = _IDLE_POLL_S) -> None:
        self.topic = f"{kafka.topic_prefix}{DECISIONS.name}"
        self._idle_poll_s = idle_poll_s
        # transaction id -> (loop, future, content hash the decision must have, or None)
        self._waiting: dict[str, _Waiter] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._consumer = kafka_edge.consumer(
            kafka,
            # Required by the client, never joined: partitions are assigned directly.
            f"ingest-api-waiter-{uuid.uuid4().hex}",
            # The broker answers a fetch as soon as one byte is there (fetch.min.bytes),
            # so a long wait costs no latency; it only spares the idle fetches (every
            # 5 ms before, ten a second now).
            **{"fetch.wait.max.ms": _FETCH_WAIT_MS, "fetch.min.bytes": 1},
        )
        self._thread = threading.Thread(target=self._serve, name="decision-waiter", daemon=True)
        self._thread.start()

    def expect(
        self, transaction_id: str, fingerprint: str | None = None
    ) -> asyncio.Future[Decision]:
        """Register interest before publishing, so a fast decision cannot be missed; with
        ``fingerprint``, only a decision of a transaction with that content answers."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        with self._lock:
            self._waiting[transaction_id] = (loop, future, fingerprint)
        return future

    def forget(self, transaction_id: str) -> None:
        with self._lock:
            self._waiting.pop(transaction_id, None)

    def ready(self, timeout_s: float) -> bool:
        """Whether the consumer holds its partitions (decisions from now on will be seen)."""
        return self._ready.wait(timeout_s)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        try:
            self._assign_all()
            while not self._stop.is_set():
                # As soon as each decision is fetched: the waiting calls' answers.
                for message in ready_messages(self._consumer, _DRAIN_MAX, self._idle_poll_s):
                    if message.error() is None:
                        self._deliver(_header(message.headers()), message.value())
        finally:
            self._consumer.close()

    def _assign_all(self) -> None:
        while not self._stop.is_set():
            try:
                meta = self._consumer.list_topics(self.topic, timeout=5).topics[self.topic]
            except KafkaException:
                continue
            parts = self._at_end(list(meta.partitions)) if meta.error is None else None
            if parts:
                self._consumer.assign(parts)
                self._ready.set()
                return
            self._stop.wait(_RETRY_S)

    def _at_end(self, partitions: list[int]) -> list[TopicPartition] | None:
        """Each partition at its end offset; None until every one has its end offset.

        Explicit end offsets rather than OFFSET_END, which is only resolved at the first
        fetch: a decision appended in between would be skipped (a new topic's leaders take
        a moment to answer: until then the waiter is not ready).
        """
        parts = []
        for partition in partitions:
            try:
                _low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=5
                )
            except KafkaException:
                return None
            parts.append(TopicPartition(self.topic, partition, int(high)))
        return parts

    def _deliver(self, transaction_id: str | None, value: bytes | None) -> None:
        with self._lock:
            waiter = self._waiting.get(transaction_id) if transaction_id is not None else None
        if waiter is None or transaction_id is None:
            return
        loop, future, fingerprint = waiter
        try:
            decision = decode_decision(value)
        except SchemaError as exc:
            self._settle(transaction_id, waiter, _fail, exc)
            return
        if fingerprint is not None and transaction_fingerprint(decision.transaction) != fingerprint:
            return  # another body under the same id: keep waiting for this one's decision
        self._settle(transaction_id, waiter, _resolve, decision)

    def _settle(
        self, transaction_id: str, waiter: _Waiter, settle: Callable[..., None], result: object
    ) -> None:
        """Hand ``result`` to the waiter, if it is still the one registered for the id."""
        with self._lock:
            if self._waiting.get(transaction_id) is not waiter:
                return
            del self._waiting[transaction_id]
        loop, future, _fingerprint = waiter
        loop.call_soon_threadsafe(settle, future, result)


def _header(headers: object) -> str | None:
    """The transaction id header of a decision record, if present."""
    value = decode_headers(headers).get(HEADER_TRANSACTION_ID)
    return value.decode() if value else None


def _resolve(future: asyncio.Future[Decision], decision: Decision) -> None:
    if not future.done():
        future.set_result(decision)


def _fail(future: asyncio.Future[Decision], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
