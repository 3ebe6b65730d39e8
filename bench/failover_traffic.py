"""The failover benchmark's traffic: a paced producer of transactions that remembers where
each one went, and a watcher of the decisions topic that remembers when each was decided."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from confluent_kafka import KafkaError, Message, TopicPartition

from bench.common import producer
from schemas import kafka_edge
from schemas.codec import encode_transaction
from schemas.connections import KafkaConnection
from schemas.kafka_edge import decode_headers
from schemas.topics import DECISIONS, HEADER_TRANSACTION_ID, TRANSACTIONS
from tests.support.agents import transactions

BOOTSTRAP = KafkaConnection().bootstrap_servers


class Feeder(threading.Thread):
    """Produces fresh transactions at ``rate`` per second until stopped (or ``seconds``), to
    the stack's brokers or to ``bootstrap``'s."""

    def __init__(self, prefix: str, rate: int, seconds: float, bootstrap: str = BOOTSTRAP) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.topic = f"{prefix}{TRANSACTIONS.name}"
        self.rate = rate
        per_account = int(rate * seconds) // 2000 + 2
        # Event times a minute apart per round and a second apart per account, all in the
        # past: the agents dead-letter one more than 5 minutes ahead of its broker timestamp.
        start = datetime.now(UTC) - timedelta(minutes=per_account, seconds=2000)
        self.txs = transactions(accounts=2000, per_account=per_account, start=start)
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._where: dict[str, tuple[int, int]] = {}  # id -> (partition, timestamp ms)
        self.refused = 0

    def run(self) -> None:
        out = producer(bootstrap=self.bootstrap)
        sent, began = 0, time.perf_counter()
        while not self.stopped.is_set() and sent < len(self.txs):
            due = int((time.perf_counter() - began) * self.rate)
            while sent < min(due, len(self.txs)):
                tx = self.txs[sent]
                out.produce(
                    self.topic,
                    encode_transaction(tx),
                    tx.account_id.encode(),
                    on_delivery=self._delivered(tx.transaction_id),
                )
                sent += 1
            out.poll(0)
            time.sleep(0.01)
        out.flush(30)

    def _delivered(self, tid: str) -> Callable[[KafkaError | None, Message], None]:
        def done(error: KafkaError | None, msg: Message) -> None:
            with self._lock:
                if error is None:
                    self._where[tid] = (msg.partition() or 0, msg.timestamp()[1])
                else:  # not accepted: the producer gave up (its delivery timeout passed)
                    self.refused += 1

        return done

    def stop(self) -> None:
        self.stopped.set()

    def sent_ids(self) -> set[str]:
        with self._lock:
            return set(self._where)

    def partitions(self) -> dict[str, int]:
        with self._lock:
            return {tid: p for tid, (p, _) in self._where.items()}

    def stamps(self) -> dict[str, int]:
        with self._lock:
            return {tid: ms for tid, (_, ms) in self._where.items()}


class DecisionWatch(threading.Thread):
    """Every decision record's transaction id and timestamp (ms), as they arrive."""

    def __init__(self, prefix: str, bootstrap: str = BOOTSTRAP) -> None:
        super().__init__(daemon=True)
        topic = f"{prefix}{DECISIONS.name}"
        self.consumer = kafka_edge.consumer(
            KafkaConnection(bootstrap_servers=bootstrap),
            uuid.uuid4().hex,
            **{"fetch.wait.max.ms": 50},
        )
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._seen: list[tuple[str, int]] = []
        self._closed = False

    def run(self) -> None:
        while not self.stopped.is_set():
            for msg in self.consumer.consume(1000, 0.1):
                if msg.error() is None:
                    tid = decode_headers(msg.headers())[HEADER_TRANSACTION_ID].decode()
                    with self._lock:
                        self._seen.append((tid, msg.timestamp()[1]))
        self.consumer.close()

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join()

    def stamps(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._seen)

    def decided(self) -> set[str]:
        return {tid for tid, _ in self.stamps()}

    def wait_until_deciding(self, timeout: float) -> None:
        """Until decisions arrive (the workers are up), then a few seconds more."""
        deadline = time.monotonic() + timeout
        while not self.stamps():
            if time.monotonic() > deadline:
                raise TimeoutError("no decision from the workers")
            time.sleep(0.5)
        time.sleep(5)  # every worker joined: let the group settle

    def wait_for(self, expected: set[str], timeout: float) -> int:
        """Until each of ``expected`` has a decision; returns how many still have none."""
        deadline = time.monotonic() + timeout
        while (missing := len(expected - self.decided())) and time.monotonic() < deadline:
            time.sleep(1)
        return missing
