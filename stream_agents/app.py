"""The faust-streaming app: topics, the feature table and the decision agent.

The only module (with ``worker`` and ``consumer``) that imports faust.
The agent takes micro-batches from ``transactions``, hands them to the pure
``DecisionPipeline``, and publishes with librdkafka, in two awaits per batch, first its
outputs, then the touched account states and marks for the table's changelog (to the
source record's partition, as faust would): faust acknowledges the batch only after the
broker holds all of them, so a crash can only repeat work, never lose it, and a mark never
reaches the broker before its decisions. faust's own producer (aiokafka, pure
Python) stays off that path. Deterministic decision ids, the ledger's uniqueness and marks
that never precede their decisions make the effects exactly once (faust's exactly_once was
measured and removed: docs/adr/0002-at-least-once-vs-exactly-once.md). Records the consumer
skips are read back
from the broker before anything after them is decided, and a periodic sweep catches those
at a partition's end (``continuity``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import faust
from faust.types import Message

from decision_core.pipeline import DecisionPipeline
from decision_core.records import BatchResult, Outgoing, SourceRecord
from schemas.topics import DEAD_LETTER, DECISIONS, TRANSACTIONS, WEBHOOKS, feature_changelog
from stream_agents.consumer import App
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
from stream_agents.settings import AgentSettings
from stream_agents.table_store import PartitionedStore

log = logging.getLogger("stream_agents")
FEATURE_TABLE = "account-features"
CHANGELOG = "changelog"  # output role of the feature table's changelog records
PROCESS_SECONDS = BATCH_SECONDS.labels("process")
PUBLISH_SECONDS = BATCH_SECONDS.labels("publish")


def raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def input_topic(settings: AgentSettings) -> str:
    return f"{settings.kafka.topic_prefix}{TRANSACTIONS.name}"


def changelog_topic(settings: AgentSettings) -> str:
    """The feature table's changelog topic, named as faust names it."""
    return f"{settings.kafka.topic_prefix}{settings.app_id}-{FEATURE_TABLE}-changelog"


def output_topics(settings: AgentSettings) -> dict[str, str]:
    """The topic of each output role: the pipeline's, and the table's changelog."""
    prefix = settings.kafka.topic_prefix
    return {
        "decisions": f"{prefix}{DECISIONS.name}",
        "webhooks": f"{prefix}{WEBHOOKS.name}",
        "dead-letter": f"{prefix}{DEAD_LETTER.name}",
        CHANGELOG: changelog_topic(settings),
    }


def group_id(settings: AgentSettings) -> str:
    """The agents' consumer group: the faust app's id."""
    return f"{settings.kafka.topic_prefix}{settings.app_id}"


def create_app(
    settings: AgentSettings,
    pipeline: DecisionPipeline,
    replicas: int,
    publisher: BatchPublisher,
    gap_reader: GapReader,
) -> faust.App:
    """A faust app whose consumer group, changelog topics and topics carry the prefix."""
    app = App(
        group_id(settings),
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.table_partitions,
        table_standby_replicas=settings.table_standby_replicas,
        topic_replication_factor=replicas,
        topic_allow_declare=True,
        web_enabled=False,
        processing_guarantee="at_least_once",
        broker_commit_interval=settings.commit_interval_s,
        producer_linger_ms=1,
        producer_compression_type="lz4",
        producer_acks=-1,
        stream_buffer_maxsize=settings.batch_max * 4,
        consumer_auto_offset_reset="earliest",
        # Failover (docs/adr/0004-static-membership.md): a restarted worker rejoins as
        # itself; a dead one is given up after the session timeout.
        consumer_group_instance_id=settings.instance_id,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
    )
    transactions = raw_topic(app, input_topic(settings))
    # Account id (raw bytes) -> the account's feature state (raw bytes). The changelog is
    # written explicitly, to the partition the account's transactions come from.
    table = app.Table(
        FEATURE_TABLE,
        default=None,
        partitions=settings.table_partitions,
        # bytes key and value types make faust use its "raw" codec, in recovery too.
        key_type=bytes,
        value_type=bytes,
        # Compacted with rolling segments as declared in schemas.topics (faust's default:
        # compact, with the broker's 1 GiB / 7-day segments that never roll).
        extra_topic_configs=dict(
            feature_changelog(settings.app_id, settings.table_partitions)
            .fit_to_cluster(replicas)
            .config
        ),
    )
    batch_wait_s = settings.batch_wait_ms / 1000
    store = PartitionedStore(table)
    changelog_name = changelog_topic(settings)

    def applied(partition: int) -> int | None:
        return decode_mark(store.get(mark_key(partition), partition))

    def load(account: str) -> bytes | None:
        """An account's feature state, as the pipeline loads it."""
        return store.get(account.encode())

    def table_writes(result: BatchResult, marks: dict[int, int]) -> list[tuple[int, bytes, bytes]]:
        """The batch's feature states and marks: (partition, key, value) for the table and
        its changelog."""
        writes = [(p, account.encode(), state) for account, (p, state) in result.states.items()]
        writes += [(p, mark_key(p), encode_mark(offset)) for p, offset in marks.items()]
        return writes

    def put(writes: list[tuple[int, bytes, bytes]]) -> None:
        """Into the table, once the batch's output is out: a rocksdb store's local files
        then never hold a mark whose decisions a crash kept from the broker."""
        for partition, key, value in writes:
            store.put(partition, key, value)

    async def publish(
        result: BatchResult,
        marks: dict[int, int],
        acknowledge_more: Callable[[], None] = lambda: None,
    ) -> None:
        """The batch's records to their topics, then its feature states and marks to the
        table's changelog and the table; then ``acknowledge_more`` (the records faust did
        not deliver)."""
        writes = table_writes(result, marks)
        changelog = [Outgoing(CHANGELOG, key, value, partition=p) for p, key, value in writes]
        # Decisions first, then the marks: a mark on the broker (or in the table) always
        # follows its records' decisions, so a record at or below a restored mark has
        # them even when faust, after a crash, drops its redelivery and commits past it
        # (seen: faust counts a hole in what it delivers as acknowledged). In one publish
        # the changelog could land and the decisions not. faust acknowledges the batch's
        # offsets only after both awaits, i.e. after the broker holds all of it.
        await publisher.publish(result.outgoing)
        delivered = await publisher.publish(changelog)
        put(writes)
        store.persisted(changelog_name, delivered)
        acknowledge_more()

    def read_back(gaps: list[Gap], why: str = "consumer skipped") -> list[SourceRecord]:
        found = [record for gap in gaps for record in gap_reader.read(gap)]
        log.warning("%s %s; read %d records back", why, _describe(gaps), len(found))
        GAP_RECORDS.inc(len(found))
        return found

    def acknowledge(found: list[SourceRecord]) -> Callable[[], None]:
        """What books records read back from a hole as acknowledged in faust's offset tracking.

        faust commits a partition up to its first offset neither acknowledged nor booked as
        a gap; a hole it never saw (it delivered nothing of it) stays unacknowledged, and
        the partition's committed offset stops there for good: a restart re-reads
        everything after it.
        A record at or below the committed offset is a no-op for faust.
        """
        consumer = app.consumer

        def book() -> None:
            for r in found:
                seconds = r.timestamp_ms / 1000
                consumer.ack(
                    Message(r.topic, r.partition, r.offset, seconds, 0, None, r.key, r.value, None)
                )

        return book

    # A batch and a sweep never interleave: each applies a partition's offsets in order.
    # Uncontended (every batch but the rare sweep's), taking it does not yield.
    applying = asyncio.Lock()

    @app.agent(transactions, concurrency=1)
    async def decide(stream: Any) -> AsyncIterator[None]:
        async for events in stream.take_events(settings.batch_max, within=batch_wait_s):
            started = time.time()
            records = [_record(event) for event in events]
            CONSUME_DELAY.observe(started - min(r.timestamp_ms for r in records) / 1000)
            async with applying:
                # faust may skip records around a rebalance (see ``continuity``): fill the
                # holes from the broker before deciding anything after them.
                gaps = find_gaps(records, applied, gap_reader.log_start)
                found = read_back(gaps) if gaps else []
                if found:
                    records = fill(records, found)
                result = pipeline.process(records, load)
                marks = advanced_marks(records, applied)
                processed = time.time()
                await publish(result, marks, acknowledge(found))
            PROCESS_SECONDS.observe(processed - started)
            PUBLISH_SECONDS.observe(time.time() - processed)
            BATCH_SIZE.observe(len(records))
            _count(result)
            yield None

    def settled() -> bool:
        return not (app.rebalancing or app.in_recovery)

    def assigned() -> list[int]:
        source = input_topic(settings)
        return sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == source)

    # A stall is read back at most this many offsets per partition and look, so that a
    # stuck partition with a deep backlog cannot hold the agent for long at a time.
    stalls = StallWatch(max_span=settings.batch_max * 10)

    def progress(committed: Mapping[int, int]) -> Callable[[int], int]:
        """Each partition's first offset not known to be done: past its applied mark and
        its committed offset (``continuity.progress_point``)."""
        return lambda partition: progress_point(partition, applied, gap_reader.log_start, committed)

    @app.timer(settings.tail_sweep_s)  # type: ignore[untyped-decorator]  # faust: untyped
    async def sweep_tails() -> None:
        """Holes at a partition's end: records faust acknowledged without delivering them
        (``tail_gaps``), or fetched and dropped without acknowledging them
        (``StallWatch``); nothing later in the partition reveals either to a batch."""
        if not settled():
            stalls.forget()
            return
        partitions = assigned()
        generation = app.consumer_generation_id
        committed, ends = await asyncio.to_thread(
            lambda: (gap_reader.committed(partitions), gap_reader.ends(partitions))
        )
        skipped = tail_gaps(committed, applied, gap_reader.log_start)
        stalled = stalls.look(generation, ends, progress(committed))
        if not (skipped or stalled):
            return
        async with applying:
            if not settled() or app.consumer_generation_id != generation:
                stalls.forget()
                return
            await repair_tails(stalled)

    async def repair_tails(stalled: list[Gap]) -> None:
        """Decide the tail holes there are now (the caller holds the lock)."""
        # Whatever was acknowledged before the lock, committed: a second commit, as one
        # under way may have gathered its offsets before the last acks.
        await app.consumer.commit()
        await app.consumer.commit()
        committed = await asyncio.to_thread(gap_reader.committed, assigned())
        gaps = tail_gaps(committed, applied, gap_reader.log_start)
        if gaps:
            found = await asyncio.to_thread(read_back, gaps, "consumer committed past")
            result = pipeline.process(found, load)
            marks = gap_marks(gaps, applied)
            await publish(result, marks)
            _count(result)
        # Since the look, a batch may have done them, or a repair above moved the mark.
        stuck = unmoved(stalled, progress(committed))
        if not stuck:
            return
        why = f"consumer left unfinished for a sweep interval ({_state(stuck, applied, committed)})"
        # In a thread: the event loop keeps serving faust's timers while it reads.
        found = await asyncio.to_thread(read_back, stuck, why)
        for gap in stuck:
            if not any(r.partition == gap.partition for r in found):
                stalls.empty(gap)
        # What is at or below a mark has its decisions on the broker already (they go out
        # before the mark): decided again, identically, as a redelivery would be
        # (``continuity``).
        result = pipeline.process(found, load)
        marks = gap_marks(stuck, applied)
        # Acknowledged in faust like any hole read back, so its commits move past them.
        await publish(result, marks, acknowledge(found))
        _count(result)

    return app


def _describe(gaps: list[Gap]) -> str:
    return ", ".join(f"[{gap.partition}] {gap.start}..{gap.end - 1}" for gap in gaps)


def _state(
    gaps: list[Gap], applied: Callable[[int], int | None], committed: Mapping[int, int]
) -> str:
    """Each gap's partition's applied mark and committed offset, for the log."""
    return ", ".join(
        f"[{gap.partition}] mark {applied(gap.partition)} committed {committed.get(gap.partition)}"
        for gap in gaps
    )


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
