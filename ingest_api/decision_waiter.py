"""Waits for the decision of a transaction published by this process (synchronous authorize).

The agents publish a copy of each awaited transaction's decision to the partition of the
``decision-replies`` topic its producer named in the record's ``reply-to`` header
(``decision_core.outputs.reply``, after the decision itself is on the broker). Each API
process picks one of those partitions at random when it starts, names it on every call's
transaction, and reads that partition alone, without a consumer group, so any number of
API processes can wait at once; two that picked the same one each skip the other's
replies. What it reads grows with its own calls, not with the pipeline: reading the
``decisions`` partitions of the accounts its calls waited on cost each process ~13-85 µs
of CPU for every decision of those partitions, and with calls for every account, every
decision the pipeline made (docs/adr/0015-authorize-replies-to-a-partition-of-its-own.md).

The partition is followed from its end offset, asked of the broker before the first call
publishes its transaction (so its reply, appended later, is read), and let go ``linger_s``
after the last call, so a process without calls reads nothing. Records carry the
transaction id in a header: a reply nobody here waits for is skipped without being
decoded. A waiter may name the content hash of the transaction it published
(``schemas.fingerprint``): a decision for another transaction that reused the id does not
answer it (issue 18).

One thread owns the consumer (librdkafka's calls are made from it alone): it takes the
request to follow the partition between its polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import KafkaException, TopicPartition

from schemas import kafka_edge
from schemas.codec import decode_decision
from schemas.connections import KafkaConnection
from schemas.consuming import ready_messages
from schemas.errors import SchemaError
from schemas.fingerprint import transaction_fingerprint
from schemas.kafka_edge import decode_headers
from schemas.records import Decision
from schemas.topics import DECISION_REPLIES, HEADER_TRANSACTION_ID

T = TypeVar("T")

# How long the thread sleeps with nothing followed and nothing asked, or one poll blocks
# while the partition is followed: how soon close() is noticed (a request to follow wakes a
# sleeping thread at once).
_IDLE_POLL_S = 0.1
_FETCH_WAIT_MS = 100
# Between two tries to learn the topic's partitions.
_RETRY_S = 0.1
# Most decisions handed over at once (the first as it arrives, then what is fetched).
_DRAIN_MAX = 500
# The partition is let go this long after its last waiter.
_LINGER_S = 60.0
# How long a call waits for the partition to be followed when it names no deadline (the
# authorize route passes what is left of its own).
_END_OFFSET_TIMEOUT_S = 5.0
# The broker's answer for a partition's end offset, at most, before it is asked again.
_END_OFFSET_POLL_S = 1.0


@dataclass(slots=True)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Decision]
    fingerprint: str | None  # the content hash the decision must have, or None
    counted: bool  # among the partition's waiters (False: registered before it was chosen)


@dataclass(slots=True)
class _Follow:
    """A call's request to follow the partition, answered once it is (or cannot be)."""

    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[bool]


class DecisionWaiter:
    """Maps transaction ids to futures and resolves them from a background consumer."""

    def __init__(
        self,
        kafka: KafkaConnection,
        idle_poll_s: float = _IDLE_POLL_S,
        linger_s: float = _LINGER_S,
    ) -> None:
        self.topic = f"{kafka.topic_prefix}{DECISION_REPLIES.name}"
        self._idle_poll_s = idle_poll_s
        self._linger_s = linger_s
        self._waiting: dict[str, _Waiter] = {}
        self._reply: int | None = None  # the partition read, once the topic is known
        self._waiters = 0  # the counted waiters now
        self._following = False  # whether the partition is read
        # When the partition was last without waiters: let go ``linger_s`` after, unless it
        # has some again.
        self._quiet_since = 0.0
        self._requests: list[_Follow] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._consumer = kafka_edge.consumer(
            kafka,
            # Required by the client, never joined: partitions are assigned directly.
            f"ingest-api-waiter-{uuid.uuid4().hex}",
            # The broker answers a fetch as soon as one byte is there (fetch.min.bytes),
            # so a long wait costs no latency; it only spares the idle fetches.
            **{"fetch.wait.max.ms": _FETCH_WAIT_MS, "fetch.min.bytes": 1},
        )
        self._thread = threading.Thread(target=self._serve, name="decision-waiter", daemon=True)
        self._thread.start()

    async def expect(
        self,
        transaction_id: str,
        fingerprint: str | None = None,
        timeout_s: float = _END_OFFSET_TIMEOUT_S,
    ) -> asyncio.Future[Decision]:
        """Register interest before publishing, so a fast reply cannot be missed: returns
        once the reply partition is read from before that reply (or after ``timeout_s``,
        when the broker did not answer: the reply may then be missed and the call falls
        back at its deadline). Publish the transaction with ``reply_partition`` in its
        ``reply-to`` header. With ``fingerprint``, only a decision of a transaction with
        that content answers."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        request = None
        with self._lock:
            counted = self._reply is not None
            replaced = self._waiting.get(transaction_id)
            if replaced is not None:
                self._uncount(replaced)  # a call that never forgot its id
            self._waiting[transaction_id] = _Waiter(loop, future, fingerprint, counted)
            if counted:
                self._waiters += 1
                if not self._following:
                    request = _Follow(loop, loop.create_future())
                    self._requests.append(request)
        if request is not None:
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(request.done), timeout_s)
            except TimeoutError:
                pass
        return future

    def forget(self, transaction_id: str) -> None:
        with self._lock:
            waiter = self._waiting.pop(transaction_id, None)
            if waiter is not None:
                self._uncount(waiter)

    def ready(self, timeout_s: float) -> bool:
        """Whether the reply partition is chosen (replies waited for from now on are read)."""
        return self._ready.wait(timeout_s)

    @property
    def reply_partition(self) -> int | None:
        """The partition of ``decision-replies`` this process reads (None until known): the
        ``reply-to`` header of the transactions its calls publish."""
        return self._reply

    def followed(self) -> list[int]:
        """The partitions read now: the reply partition while calls come, or none."""
        with self._lock:
            return [self._reply] if self._following and self._reply is not None else []

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _uncount(self, waiter: _Waiter) -> None:
        """One waiter fewer on the partition, if ``waiter`` was counted (the lock held)."""
        if waiter.counted:
            self._waiters -= 1
            if not self._waiters:
                self._quiet_since = time.monotonic()

    def _serve(self) -> None:
        try:
            self._learn_partitions()
            while not self._stop.is_set():
                self._follow_requested()
                if not self._following:
                    # Asked again soon while a request waits for the partition's end.
                    self._wake.wait(_RETRY_S if self._requests else self._idle_poll_s)
                    self._wake.clear()
                    # Polled all the same: the client's error and log events are served
                    # (and freed) only by a poll.
                    self._drain(0)
                    continue
                # Followed, the partition is the only one a call can ask for: no request
                # to wake up for.
                self._drain(self._idle_poll_s)
                self._let_go_idle()
        finally:
            self._consumer.close()
            self._answer_requests(False)

    def _drain(self, timeout_s: float) -> None:
        """As soon as each decision is fetched: the waiting calls' answers."""
        for message in ready_messages(self._consumer, _DRAIN_MAX, timeout_s):
            if message.error() is None:
                self._deliver(_header(message.headers()), message.value())

    def _learn_partitions(self) -> None:
        while not self._stop.is_set():
            try:
                meta = self._consumer.list_topics(self.topic, timeout=5).topics[self.topic]
            except KafkaException:
                continue
            if meta.error is None and meta.partitions:
                with self._lock:
                    # At random: API processes need no coordination, and two that share a
                    # partition only skip each other's replies.
                    self._reply = secrets.randbelow(len(meta.partitions))
                self._ready.set()
                return
            self._stop.wait(_RETRY_S)

    def _follow_requested(self) -> None:
        """The partition, once asked for, from its end offset (a call waits on it before
        publishing, so its reply comes after that end). When the broker did not give the
        end (a new topic's leader not elected yet), it is asked again while a call waits."""
        with self._lock:
            requests, self._requests = self._requests, []
            start = bool(requests) and not self._following
        partition = self._reply
        if start and partition is not None:
            tp = TopicPartition(self.topic, partition)
            try:
                _low, high = self._consumer.get_watermark_offsets(tp, timeout=_END_OFFSET_POLL_S)
            except KafkaException:
                pass
            else:
                self._consumer.incremental_assign([TopicPartition(self.topic, partition, high)])
                with self._lock:
                    self._following, self._quiet_since = True, time.monotonic()
        with self._lock:
            if not self._following and self._waiters:
                self._requests.extend(requests)  # asked again next time round
                return
        # Followed, or nobody waits any more.
        for request in requests:
            _call_soon(request.loop, _resolve, request.done, self._following)

    def _let_go_idle(self) -> None:
        """Stop reading the partition when nobody has waited on it for ``linger_s``."""
        with self._lock:
            idle = not self._waiters and self._quiet_since < time.monotonic() - self._linger_s
            if idle:
                self._following = False
        if idle and self._reply is not None:
            self._consumer.incremental_unassign([TopicPartition(self.topic, self._reply)])

    def _answer_requests(self, followed: bool) -> None:
        with self._lock:
            requests, self._requests = self._requests, []
        for request in requests:
            _call_soon(request.loop, _resolve, request.done, followed)

    def _deliver(self, transaction_id: str | None, value: bytes | None) -> None:
        with self._lock:
            waiter = self._waiting.get(transaction_id) if transaction_id is not None else None
        if waiter is None or transaction_id is None:
            return
        try:
            decision = decode_decision(value)
        except SchemaError as exc:
            self._settle(transaction_id, waiter, _fail, exc)
            return
        fingerprint = waiter.fingerprint
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
            self._uncount(waiter)
        _call_soon(waiter.loop, settle, waiter.future, result)


def _header(headers: object) -> str | None:
    """The transaction id header of a decision record, if present."""
    value = decode_headers(headers).get(HEADER_TRANSACTION_ID)
    return value.decode() if value else None


def _call_soon(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: object
) -> None:
    """``callback`` on the caller's loop; nothing when that loop has closed (the caller,
    an API process shutting down, is gone), rather than the end of this thread."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _resolve(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Decision], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
