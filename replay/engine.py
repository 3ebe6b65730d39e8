"""One replay worker: its partitions read in offset order, warmed, decided, compared.

Each partition is read from its warm-up offset; records before the range's start only
update the feature state (``DecisionPipeline.warm``), later ones are decided by the same
``DecisionPipeline`` the agents run, without encoding, then compared with the ledger in
batches. Feature states stay in memory as objects, never serialized. Both apply the agents'
placement (``decision_core.placement``): a record the agents forwarded home is skipped (its
copy, read on its home partition, is decided), one they dead-lettered for its key is
counted as rejected with their reason, so each transaction is decided once, where the
agents decided it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import Producer
from psycopg import Connection

from decision_core.features import AccountFeatures
from decision_core.outputs import decision_record
from decision_core.pipeline import DecisionPipeline
from decision_core.placement import misplacement, place
from decision_core.records import BatchResult, SourceRecord
from replay.candidate import Candidate, build_pipeline
from replay.database import LiveDecision, connect, live_decisions
from replay.errors import ReplayError
from replay.plan import PartitionRange
from replay.report import Replayed, ReportPart
from replay.source import output_producer, read_ranges, throwaway_consumer
from schemas import kafka_edge
from schemas.connections import KafkaConnection
from schemas.kafka_edge import DeliveryFailed, Outbound
from schemas.partitioning import home_partition
from schemas.records import Decision


@dataclass(frozen=True)
class Job:
    """A worker's share of a replay (picklable: it crosses to a worker process)."""

    kafka: KafkaConnection
    topic: str
    parts: tuple[PartitionRange, ...]
    candidate: Candidate
    dsn: str | None  # None: no ledger to compare with
    partitions: int  # the topic's partition count: where its keys belong
    labels: dict[str, bool] = field(default_factory=dict)
    to_topic: str | None = None
    batch_size: int = 5000
    lookup_batch: int = 5000


def run_job(job: Job, progress: Callable[[int], None] = lambda _n: None) -> ReportPart:
    """Replay ``job``'s partitions; ``progress`` is told how many records each batch read."""
    pipeline = build_pipeline(job.candidate)
    consumer = throwaway_consumer(job.kafka)
    conn = connect(job.dsn) if job.dsn is not None else None
    producer = output_producer(job.kafka) if job.to_topic else None
    part = ReportPart()
    pending: list[Replayed] = []
    comparing = _Comparing(conn, part, job.labels)
    replaying = Replaying(pipeline, job.parts, job.partitions, part, producer, job.to_topic)
    try:
        for batch in read_ranges(consumer, job.topic, job.parts, job.batch_size):
            pending.extend(replaying.feed(batch))
            if len(pending) >= job.lookup_batch:
                comparing.submit(pending)
                pending = []
            progress(len(batch))
        comparing.submit(pending)
        comparing.drain()
    finally:
        comparing.close()
        consumer.close()
        if conn is not None:
            conn.close()
        if producer is not None:
            producer.flush(60)  # only after a failure: every batch waited for its records
    return part


class _Comparing:
    """Replayed transactions compared with the ledger and the labels, batch by batch, in
    the order they were decided.

    Each batch's ledger look-up runs in a thread of its own while the next batch is decided
    (psycopg waits for PostgreSQL without holding the GIL): a worker no longer stops for a
    round trip every ``lookup_batch`` transactions. One look-up at most is in flight, and
    batches are accounted in submission order, so the report is the same as in sequence.
    """

    def __init__(self, conn: Connection | None, part: ReportPart, labels: dict[str, bool]):
        self.conn = conn
        self.part = part
        self.labels = labels
        self.lookups = ThreadPoolExecutor(1, "replay-ledger") if conn is not None else None
        self.in_flight: tuple[list[Replayed], Future[dict[str, LiveDecision]]] | None = None

    def submit(self, batch: list[Replayed]) -> None:
        """Look ``batch`` up (after accounting the one before it)."""
        self.drain()
        if not batch:
            return
        if self.conn is None or self.lookups is None:
            self._account(batch, {})
            return
        ids = [r.transaction_id for r in batch]
        self.in_flight = (batch, self.lookups.submit(live_decisions, self.conn, ids))

    def drain(self) -> None:
        """Account the batch whose look-up is in flight, if any (its error raised here)."""
        if self.in_flight is not None:
            batch, found = self.in_flight
            self.in_flight = None
            self._account(batch, found.result())

    def close(self) -> None:
        if self.lookups is not None:
            self.lookups.shutdown(wait=True, cancel_futures=True)

    def _account(self, batch: list[Replayed], found: dict[str, LiveDecision]) -> None:
        part, labels = self.part, self.labels
        for replayed in batch:
            tid = replayed.transaction_id
            part.add(replayed, found.get(tid), labels.get(tid))


class Replaying:
    """The feature states of the worker's accounts and the transaction ids already decided."""

    def __init__(
        self,
        pipeline: DecisionPipeline,
        parts: Sequence[PartitionRange],
        partitions: int,
        part: ReportPart,
        producer: Producer | None,
        to_topic: str | None,
    ) -> None:
        self.pipeline = pipeline
        self.starts = {p.partition: p.start for p in parts}
        self.cold_until = {p.partition: p.cold_until_ms for p in parts}
        self.partitions = partitions
        self.part = part
        self.producer = producer
        self.to_topic = to_topic
        self.accounts: dict[str, AccountFeatures] = {}
        self.seen: set[str] = set()

    def feed(self, batch: list[SourceRecord]) -> list[Replayed]:
        """Warm with the batch's records before their partition's start, decide the rest.

        Within a partition every warm-up record precedes every decided one, and accounts
        never span partitions, so warming first keeps each account's order.
        """
        part, starts = self.part, self.starts
        warm = [r for r in batch if r.offset < starts[r.partition]]
        part.read += len(batch)
        if warm:
            self.pipeline.warm(warm, self.accounts, BatchResult(), self._applied)
            part.warmed += len(warm)
            if len(warm) == len(batch):
                return []
            batch = [r for r in batch if r.offset >= starts[r.partition]]
        result = BatchResult()
        screened = self.pipeline.screen(batch, result)
        placed = place(screened, self.partitions, result, home_partition)
        part.placement.update(placed.moved)
        decided = self.pipeline.decide_screened(placed.kept, self.accounts, _no_state, result)
        part.invalid += result.dead_lettered
        part.decided += result.decided
        out, published = [], []
        for record, decision in decided:
            if decision.transaction_id in self.seen:  # a redelivered transaction: decided once
                part.duplicates += 1
                continue
            self.seen.add(decision.transaction_id)
            out.append(Replayed.of(record, decision, self._cold(record)))
            published.append(decision)
        self._publish(published)
        return out

    def _publish(self, decisions: Sequence[Decision]) -> None:
        """The batch's decisions on the output topic, acknowledged before the next batch."""
        if self.producer is None or self.to_topic is None or not decisions:
            return
        topic = self.to_topic
        records = (_outbound(topic, decision) for decision in decisions)
        try:
            kafka_edge.deliver_all(self.producer, records, 60)
        except DeliveryFailed as exc:
            raise ReplayError(f"replayed decisions not published: {exc}") from exc

    def _applied(self, record: SourceRecord, account: str) -> bool:
        """Whether the agents applied ``record`` on the partition it was read from."""
        return misplacement(record, account, self.partitions, home_partition) is None

    def _cold(self, record: SourceRecord) -> bool:
        """Whether the record's longest window reaches back before what the replay read."""
        until = self.cold_until.get(record.partition)
        return until is not None and record.timestamp_ms < until


def _no_state(_account: str) -> bytes | None:
    return None  # a replay starts every account afresh at its warm-up offset


def _outbound(topic: str, decision: Decision) -> Outbound:
    out = decision_record(decision)
    return Outbound(topic, out.key, out.value, out.headers)
