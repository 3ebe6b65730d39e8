"""The decision agent's work per micro-batch and per tick, around the pure pipeline.

``create_app`` (``stream_agents.app``) builds the faust app and hands each micro-batch and
each timer tick to one ``DecisionAgent``. It owns the order of effects: a batch's
decisions, webhook events and dead letters acknowledged by the broker, then its feature
states and applied marks on the changelog and in the table, then its offsets acknowledged
to faust. What it decides, and where faust must seek back to, is the checkpoint's call
(``stream_agents.checkpoint``): the applied mark is the source of truth, redeliveries at
or below it are dropped, and whatever faust skipped is read again by a seek. Between
screening a batch and deciding it, each record's partition is checked against its key
(``decision_core.placement``: one off its home partition is forwarded there with the
batch's outputs, one not keyed by its account dead-lettered), then the transaction ids are
claimed in the registry the API shares (``stream_agents.txid_claims``): a reused id of any
account is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from faust.types import TP

from decision_core.pipeline import DecisionPipeline
from decision_core.placement import place
from decision_core.records import BatchResult, Outgoing, Screened, SourceRecord
from schemas.kafka_edge import decode_headers
from schemas.partitioning import home_partition
from stream_agents.checkpoint import (
    Admitted,
    Checkpoint,
    advanced_marks,
    decode_mark,
    encode_mark,
    mark_key,
)
from stream_agents.faust_edge import PartitionedStore, committed_offsets
from stream_agents.metrics import (
    BATCH_SECONDS,
    BATCH_SIZE,
    CONSUME_DELAY,
    DEAD_LETTERED,
    DECIDED,
    HELD_BACK,
    MISPLACED,
    REDELIVERED,
    SEEKS,
)
from stream_agents.output import BatchPublisher
from stream_agents.txid_claims import TransactionIdClaims

log = logging.getLogger("stream_agents")
CHANGELOG = "changelog"  # output role of the feature table's changelog records
CLAIM_SECONDS = BATCH_SECONDS.labels("claim")
PROCESS_SECONDS = BATCH_SECONDS.labels("process")
PUBLISH_SECONDS = BATCH_SECONDS.labels("publish")
Writes = list[tuple[int, bytes, bytes]]  # (partition, key, value) for the table


class DecisionAgent:
    """One worker's agent: decides micro-batches from each partition's checkpoint on."""

    def __init__(
        self,
        app: faust.App,
        store: PartitionedStore,
        pipeline: DecisionPipeline,
        publisher: BatchPublisher,
        checkpoint: Checkpoint,
        source_topic: str,
        changelog_topic: str,
        claims: TransactionIdClaims | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.pipeline = pipeline
        self.publisher = publisher
        self.checkpoint = checkpoint
        self.source_topic = source_topic
        self.changelog_topic = changelog_topic
        self.claims = claims  # None: no registry (the check off)
        # A batch and a tick never interleave: both read the marks and ask for seeks.
        # Uncontended (every batch but the rare tick's), taking it does not yield.
        self.applying = asyncio.Lock()
        # Each partition's log start, for a partition no mark was written for yet.
        self.log_starts: dict[int, int] = {}

    def applied(self, partition: int) -> int | None:
        """The partition's applied mark: the highest source offset its state holds."""
        return decode_mark(self.store.get(mark_key(partition), partition))

    def next_offset(self, partition: int) -> int:
        """The first offset of ``partition`` not applied: past the mark, or its log start."""
        return self._past(partition, self.applied(partition))

    def _past(self, partition: int, mark: int | None) -> int:
        start = self.log_starts.get(partition, 0)
        return start if mark is None else max(mark + 1, start)

    def load(self, account: str, partition: int | None = None) -> bytes | None:
        """An account's feature state, looked up in ``partition`` when the caller knows it."""
        return self.store.get(account.encode(), partition)

    async def decide(self, events: Sequence[Any]) -> None:
        """One micro-batch faust delivered: sorted out by the checkpoint, decided,
        published in order; then the seeks it calls for."""
        started = time.time()
        batch = [(_record(event), event.message.generation_id) for event in events]
        CONSUME_DELAY.observe(started - min(r.timestamp_ms for r, _ in batch) / 1000)
        async with self.applying:
            # Each partition's mark read once per batch (a store read with rocksdb).
            marks = {p: self.applied(p) for p in {r.partition for r, _ in batch}}
            await self.learn_log_starts(p for p, mark in marks.items() if mark is None)
            admitted = self.checkpoint.admit(batch, lambda p: self._past(p, marks[p]))
            processed, claiming = started, 0.0
            if admitted.records:
                result, claiming = await self.process(admitted.records)
                processed = time.time()
                await self.publish(result, advanced_marks(admitted.records))
                _count(result)
            generation = self.app.consumer_generation_id
            await self.seek(self.checkpoint.due(generation, self.assigned()))
        _count_admitted(admitted)
        CLAIM_SECONDS.observe(claiming)
        PROCESS_SECONDS.observe(processed - started - claiming)
        PUBLISH_SECONDS.observe(time.time() - processed)
        BATCH_SIZE.observe(len(admitted.records))

    async def process(self, records: Sequence[SourceRecord]) -> tuple[BatchResult, float]:
        """The admitted records screened, their ids claimed, then decided; and the seconds
        the claim took."""
        result = BatchResult()
        screened = self._placed(self.pipeline.screen(records, result), result)
        # Placed, each account's records are on its home partition, where its state is
        # kept: read from that partition's store (with rocksdb, one database, not a search).
        homes = {one.tx.account_id: one.record.partition for one in screened}

        def load(account: str) -> bytes | None:
            return self.load(account, homes.get(account))

        if self.claims is None or not screened:
            return self.pipeline.process_screened(screened, load, result), 0.0
        started = time.perf_counter()
        reused = await self.claims.reused([one.tx for one in screened])
        claiming = time.perf_counter() - started
        return self.pipeline.process_screened(screened, load, result, reused), claiming

    def _placed(self, screened: list[Screened], result: BatchResult) -> list[Screened]:
        """The screened records on their home partition; the others forwarded there (their
        copies published with the batch, before its marks) or dead-lettered, and counted."""
        partitions = self.app.consumer.topic_partitions(self.source_topic)
        placed = place(screened, partitions, result, home_partition)
        for reason, count in placed.moved.items():
            MISPLACED.labels(reason).inc(count)
        return placed.kept

    async def publish(self, result: BatchResult, marks: dict[int, int]) -> None:
        """The batch's records to their topics, then its feature states and marks to the
        table's changelog and the table."""
        writes = _table_writes(result, marks)
        changelog = [Outgoing(CHANGELOG, key, value, partition=p) for p, key, value in writes]
        # Decisions first, then the marks: a mark on the broker (or in the table) always
        # follows its records' decisions, so a record at or below a restored mark has
        # them, and its redelivery can be dropped. In one publish the changelog could land
        # and the decisions not. faust acknowledges the batch's offsets only after both
        # awaits, i.e. after the broker holds all of it.
        await self.publisher.publish(result.outgoing)
        # The awaited decisions' copies only now: a caller answered from one is answered
        # with a decision the broker holds.
        delivered = await self.publisher.publish([*result.replies, *changelog])
        # Into the table only now: a rocksdb store's local files then never hold a mark
        # whose decisions a crash kept from the broker.
        for partition, key, value in writes:
            self.store.put(partition, key, value)
        self.store.persisted(self.changelog_topic, delivered)

    async def tick(self) -> None:
        """Every partition's end and faust's commits against its checkpoint: the stalls
        no batch reveals (``Checkpoint.look``), and seeks due again."""
        if self.app.rebalancing or self.app.in_recovery:
            self.checkpoint.unsettled()
            return
        async with self.applying:
            assigned = self.assigned()
            await self.learn_log_starts(p for p in assigned if self.applied(p) is None)
            tps = {p: TP(self.source_topic, p) for p in assigned}
            consumer = self.app.consumer
            ends = {p: consumer.highwater(tp) for p, tp in tps.items()}
            known = committed_offsets(consumer, tps.values())
            committed = {p: known[tp] for p, tp in tps.items()}
            generation = self.app.consumer_generation_id
            rewinds = self.checkpoint.look(ends, committed, self.next_offset, generation)
            await self.seek({**rewinds, **self.checkpoint.due(generation, assigned)})

    async def seek(self, targets: Mapping[int, int]) -> None:
        """faust's consumer sought back (its public ``Consumer.seek``, which also resets
        the offset below which faust drops what it fetches)."""
        for partition, offset in sorted(targets.items()):
            await self.app.consumer.seek(TP(self.source_topic, partition), offset)
            SEEKS.inc()

    async def learn_log_starts(self, partitions: Iterable[int]) -> None:
        """The log start of each of ``partitions`` not known yet (asked of the broker)."""
        unknown = [TP(self.source_topic, p) for p in partitions if p not in self.log_starts]
        if unknown:
            found = await self.app.consumer.earliest_offsets(*unknown)
            self.log_starts.update({tp.partition: offset or 0 for tp, offset in found.items()})

    def assigned(self) -> list[int]:
        assignment = self.app.consumer.assignment()
        return sorted(tp.partition for tp in assignment if tp.topic == self.source_topic)


def _table_writes(result: BatchResult, marks: dict[int, int]) -> Writes:
    """The batch's feature states and marks, for the table and its changelog."""
    writes = [(p, account.encode(), state) for account, (p, state) in result.states.items()]
    writes += [(p, mark_key(p), encode_mark(offset)) for p, offset in marks.items()]
    return writes


def _count(result: BatchResult) -> None:
    DECIDED.inc(result.decided)
    DEAD_LETTERED.inc(result.dead_lettered)


def _count_admitted(admitted: Admitted) -> None:
    REDELIVERED.inc(admitted.redelivered)
    HELD_BACK.inc(admitted.held_back)


def _record(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000),
        key=message.key,
        value=message.value,
        headers=tuple(decode_headers(message.headers).items()),
    )
