"""The decision agent's work per micro-batch and per sweep, around the pure pipeline.

``create_app`` (``stream_agents.app``) builds the faust app and hands each micro-batch and
each sweep tick to one ``DecisionAgent``. It owns the order of effects: a batch's
decisions, webhook events and dead letters acknowledged by the broker, then its feature
states and applied marks on the changelog and in the table, then its offsets acknowledged
to faust. It fills holes faust left in what it delivered (``continuity``) from the broker
(``repair``) before deciding anything after them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import faust

from decision_core.pipeline import DecisionPipeline
from decision_core.records import BatchResult, Outgoing, SourceRecord
from stream_agents.continuity import (
    Gap,
    StallWatch,
    advanced_marks,
    decode_mark,
    encode_mark,
    fill,
    find_gaps,
    gap_marks,
    mark_key,
    progress_point,
    tail_gaps,
    unmoved,
)
from stream_agents.faust_edge import PartitionedStore, acknowledge_records
from stream_agents.metrics import (
    BATCH_SECONDS,
    BATCH_SIZE,
    CONSUME_DELAY,
    DEAD_LETTERED,
    DECIDED,
    GAP_RECORDS,
)
from stream_agents.output import BatchPublisher
from stream_agents.repair import GapReader

log = logging.getLogger("stream_agents")
CHANGELOG = "changelog"  # output role of the feature table's changelog records
PROCESS_SECONDS = BATCH_SECONDS.labels("process")
PUBLISH_SECONDS = BATCH_SECONDS.labels("publish")
Writes = list[tuple[int, bytes, bytes]]  # (partition, key, value) for the table


class DecisionAgent:
    """One worker's agent: decides micro-batches and repairs what faust skipped."""

    def __init__(
        self,
        app: faust.App,
        store: PartitionedStore,
        pipeline: DecisionPipeline,
        publisher: BatchPublisher,
        gap_reader: GapReader,
        source_topic: str,
        changelog_topic: str,
        max_stall_span: int,
    ) -> None:
        self.app = app
        self.store = store
        self.pipeline = pipeline
        self.publisher = publisher
        self.gap_reader = gap_reader
        self.source_topic = source_topic
        self.changelog_topic = changelog_topic
        # A batch and a sweep never interleave: each applies a partition's offsets in
        # order. Uncontended (every batch but the rare sweep's), taking it does not yield.
        self.applying = asyncio.Lock()
        # A stall is read back at most this many offsets per partition and look, so that a
        # stuck partition with a deep backlog cannot hold the agent for long at a time.
        self.stalls = StallWatch(max_span=max_stall_span)

    def applied(self, partition: int) -> int | None:
        """The partition's applied mark: the highest source offset its state holds."""
        return decode_mark(self.store.get(mark_key(partition), partition))

    def load(self, account: str) -> bytes | None:
        """An account's feature state, as the pipeline loads it."""
        return self.store.get(account.encode())

    async def decide(self, events: Sequence[Any]) -> None:
        """One micro-batch faust delivered: holes filled, decided, published in order."""
        started = time.time()
        records = [_record(event) for event in events]
        CONSUME_DELAY.observe(started - min(r.timestamp_ms for r in records) / 1000)
        async with self.applying:
            # faust may skip records around a rebalance (see ``continuity``): fill the
            # holes from the broker before deciding anything after them.
            gaps = find_gaps(records, self.applied, self.gap_reader.log_start)
            found = self.read_back(gaps) if gaps else []
            if found:
                records = fill(records, found)
            result = self.pipeline.process(records, self.load)
            marks = advanced_marks(records, self.applied)
            processed = time.time()
            await self.publish(result, marks, self.acknowledge(found))
        PROCESS_SECONDS.observe(processed - started)
        PUBLISH_SECONDS.observe(time.time() - processed)
        BATCH_SIZE.observe(len(records))
        _count(result)

    async def publish(
        self,
        result: BatchResult,
        marks: dict[int, int],
        acknowledge_more: Callable[[], None] = lambda: None,
    ) -> None:
        """The batch's records to their topics, then its feature states and marks to the
        table's changelog and the table; then ``acknowledge_more`` (the records faust did
        not deliver)."""
        writes = _table_writes(result, marks)
        changelog = [Outgoing(CHANGELOG, key, value, partition=p) for p, key, value in writes]
        # Decisions first, then the marks: a mark on the broker (or in the table) always
        # follows its records' decisions, so a record at or below a restored mark has
        # them even when faust, after a crash, drops its redelivery and commits past it
        # (seen: faust counts a hole in what it delivers as acknowledged). In one publish
        # the changelog could land and the decisions not. faust acknowledges the batch's
        # offsets only after both awaits, i.e. after the broker holds all of it.
        await self.publisher.publish(result.outgoing)
        delivered = await self.publisher.publish(changelog)
        # Into the table only now: a rocksdb store's local files then never hold a mark
        # whose decisions a crash kept from the broker.
        for partition, key, value in writes:
            self.store.put(partition, key, value)
        self.store.persisted(self.changelog_topic, delivered)
        acknowledge_more()

    def read_back(self, gaps: list[Gap], why: str = "consumer skipped") -> list[SourceRecord]:
        found = [record for gap in gaps for record in self.gap_reader.read(gap)]
        log.warning("%s %s; read %d records back", why, _describe(gaps), len(found))
        GAP_RECORDS.inc(len(found))
        return found

    def acknowledge(self, found: list[SourceRecord]) -> Callable[[], None]:
        """What books records read back from a hole as acknowledged in faust's offset tracking.

        faust commits a partition up to its first offset neither acknowledged nor booked as
        a gap; a hole it never saw (it delivered nothing of it) stays unacknowledged, and
        the partition's committed offset stops there for good: a restart re-reads
        everything after it. A record at or below the committed offset is a no-op for faust.
        """
        consumer = self.app.consumer
        return lambda: acknowledge_records(consumer, found)

    def settled(self) -> bool:
        return not (self.app.rebalancing or self.app.in_recovery)

    def assigned(self) -> list[int]:
        assignment = self.app.consumer.assignment()
        return sorted(tp.partition for tp in assignment if tp.topic == self.source_topic)

    def progress(self, committed: Mapping[int, int]) -> Callable[[int], int]:
        """Each partition's first offset not known to be done: past its applied mark and
        its committed offset (``continuity.progress_point``)."""
        log_start = self.gap_reader.log_start
        return lambda partition: progress_point(partition, self.applied, log_start, committed)

    async def sweep_tails(self) -> None:
        """Holes at a partition's end: records faust acknowledged without delivering them
        (``tail_gaps``), or fetched and dropped without acknowledging them
        (``StallWatch``); nothing later in the partition reveals either to a batch."""
        if not self.settled():
            self.stalls.forget()
            return
        partitions = self.assigned()
        generation = self.app.consumer_generation_id
        reader = self.gap_reader
        committed, ends = await asyncio.to_thread(
            lambda: (reader.committed(partitions), reader.ends(partitions))
        )
        skipped = tail_gaps(committed, self.applied, reader.log_start)
        stalled = self.stalls.look(generation, ends, self.progress(committed))
        if not (skipped or stalled):
            return
        async with self.applying:
            if not self.settled() or self.app.consumer_generation_id != generation:
                self.stalls.forget()
                return
            await self.repair_tails(stalled)

    async def repair_tails(self, stalled: list[Gap]) -> None:
        """Decide the tail holes there are now (the caller holds the lock)."""
        # Whatever was acknowledged before the lock, committed: a second commit, as one
        # under way may have gathered its offsets before the last acks.
        await self.app.consumer.commit()
        await self.app.consumer.commit()
        committed = await asyncio.to_thread(self.gap_reader.committed, self.assigned())
        gaps = tail_gaps(committed, self.applied, self.gap_reader.log_start)
        if gaps:
            found = await asyncio.to_thread(self.read_back, gaps, "consumer committed past")
            result = self.pipeline.process(found, self.load)
            await self.publish(result, gap_marks(gaps, self.applied))
            _count(result)
        # Since the look, a batch may have done them, or a repair above moved the mark.
        stuck = unmoved(stalled, self.progress(committed))
        if stuck:
            await self._decide_stalled(stuck, committed)

    async def _decide_stalled(self, stuck: list[Gap], committed: Mapping[int, int]) -> None:
        why = f"consumer left unfinished for a sweep interval ({self._state(stuck, committed)})"
        # In a thread: the event loop keeps serving faust's timers while it reads.
        found = await asyncio.to_thread(self.read_back, stuck, why)
        for gap in stuck:
            if not any(r.partition == gap.partition for r in found):
                self.stalls.empty(gap)
        # What is at or below a mark has its decisions on the broker already (they go out
        # before the mark): decided again, identically, as a redelivery would be
        # (``continuity``). Acknowledged in faust like any hole read back, so its commits
        # move past them.
        result = self.pipeline.process(found, self.load)
        await self.publish(result, gap_marks(stuck, self.applied), self.acknowledge(found))
        _count(result)

    def _state(self, gaps: list[Gap], committed: Mapping[int, int]) -> str:
        """Each gap's partition's applied mark and committed offset, for the log."""
        described = (
            (g.partition, self.applied(g.partition), committed.get(g.partition)) for g in gaps
        )
        return ", ".join(f"[{p}] mark {mark} committed {at}" for p, mark, at in described)


def _table_writes(result: BatchResult, marks: dict[int, int]) -> Writes:
    """The batch's feature states and marks, for the table and its changelog."""
    writes = [(p, account.encode(), state) for account, (p, state) in result.states.items()]
    writes += [(p, mark_key(p), encode_mark(offset)) for p, offset in marks.items()]
    return writes


def _describe(gaps: list[Gap]) -> str:
    return ", ".join(f"[{gap.partition}] {gap.start}..{gap.end - 1}" for gap in gaps)


def _count(result: BatchResult) -> None:
    DECIDED.inc(result.decided)
    DEAD_LETTERED.inc(result.dead_lettered)


def _record(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000),
        key=message.key,
        value=message.value,
        headers=_headers(message.headers),
    )


def _headers(found: Any) -> tuple[tuple[str, bytes], ...]:
    """aiokafka hands headers over as a sequence of pairs (faust may give a mapping)."""
    pairs = found.items() if isinstance(found, dict) else (found or ())
    return tuple((name, value or b"") for name, value in pairs)
