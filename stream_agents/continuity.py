"""Every source offset applied, in order, whatever the consumer happens to deliver.

faust-streaming (0.15, aiokafka) can lose records around a rebalance: in
``Recovery.on_recovery_completed`` it resumes the stream partitions *before* it seeks them
to the committed offsets, so records fetched during the seek raise its "read offset"; the
re-fetched ones are then dropped as already read ("DROPPED MESSAGE ROFF" in its dev log),
and the next record past the hole is taken as a gap that counts as acknowledged, so the
hole is committed without ever reaching the agent. ``tests/faults`` reproduced it about
one run in three after a SIGKILL.

So the agent does not trust delivery for completeness. It keeps, per source partition,
the highest offset it has applied (in the feature table, so it travels with the partition
on a rebalance and is restored from the changelog), and checks each micro-batch against
it: a record further on than the next offset reveals a hole, which the agent reads
straight from the broker (``stream_agents.repair``) and applies first, in offset order.
A hole at a partition's end, with nothing after it, is found by a periodic sweep that
compares the group's committed offsets with the marks (``tail_gaps``). The same sweep
catches records faust fetched and dropped without acknowledging them (its ``getmany``
abandons a batch mid-way when the flow stops): nothing commits past them, nothing comes
after them, and the consumer's position is already beyond them. The sweep compares each
partition's end with its progress (past the mark and acknowledged),
and records that waited past a progress point that did not move for a whole sweep
interval are read back like any hole (``StallWatch``). A partition the agents
never applied counts from its log start, so records dropped before the first one
delivered are a hole like any other.
A hole may also be legitimate: a transactional producer's commit markers take offsets too
(``sentinel dlq redrive`` writes in transactions); reading the hole then finds no records
and nothing changes. Records at or below the mark are redeliveries; the feature state
already ignores them (the applied offset per partition inside each account's state) and
their decisions come out identical. They are decided again (a duplicate the sinks drop
by decision id): the agent publishes a batch's decisions before its marks, so a mark never
precedes its decisions on the broker, and this is no longer needed for them; it stays the
conservative choice.

Plain Python: which offsets are missing, and the batch with them filled in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from decision_core.records import SourceRecord

# Table keys of the per-partition marks: a NUL first byte, which no account id has (the
# pipeline dead-letters account ids with control characters).
_MARK_PREFIX: Final = b"\x00applied:"


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets [start, end) of one partition that the consumer skipped."""

    partition: int
    start: int
    end: int


def mark_key(partition: int) -> bytes:
    """The feature-table key under which a partition's highest applied offset is kept."""
    return _MARK_PREFIX + str(partition).encode()


def is_mark_key(key: bytes) -> bool:
    return key.startswith(_MARK_PREFIX)


def encode_mark(offset: int) -> bytes:
    return str(offset).encode()


def decode_mark(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def find_gaps(
    records: Sequence[SourceRecord],
    applied: Callable[[int], int | None],
    first: Callable[[int], int],
) -> list[Gap]:
    """The holes between what was applied (``applied(partition)``, None when the partition
    was never applied) and the records of this batch, partition by partition. A partition
    never applied starts at ``first(partition)``, its log start: records faust dropped
    before the first it delivered are a hole too (asked only for such partitions)."""
    gaps: list[Gap] = []
    last: dict[int, int] = {}
    for record in records:
        partition = record.partition
        if partition in last:
            previous = last[partition]
        else:
            mark = applied(partition)
            previous = first(partition) - 1 if mark is None else mark
        if record.offset > previous + 1:
            gaps.append(Gap(partition, previous + 1, record.offset))
        last[partition] = max(previous, record.offset)
    return gaps


def tail_gaps(
    committed: Mapping[int, int],
    applied: Callable[[int], int | None],
    first: Callable[[int], int],
) -> list[Gap]:
    """Offsets the consumer group committed past a partition's applied mark.

    ``committed`` is the group's next offset per partition. The agent acknowledges a batch
    only after its marks are set, so a committed offset beyond ``mark + 1`` means faust
    acknowledged records the agent never got; at a partition's end no later record
    reveals them to ``find_gaps``. A partition never applied counts from its log start,
    ``first(partition)`` (asked only for such partitions).
    """
    gaps = []
    for partition, next_offset in sorted(committed.items()):
        start = _next_to_apply(partition, applied, first)
        if next_offset > start:
            gaps.append(Gap(partition, start, next_offset))
    return gaps


class StallWatch:
    """Records that wait on the broker while a partition makes no progress: the tail the
    consumer will never deliver.

    Each ``look`` takes every assigned partition's end (its last stable offset: what a
    read_committed consumer can read) and its progress point (``progress``: the first
    offset not known to be done) and returns, per partition whose progress point has not
    moved since the previous look, the offsets that were already there then: they waited
    a whole look interval on a worker that finished nothing of the partition meanwhile.
    Records appended since the previous look are left to the consumer until the next.
    A new consumer generation (a rebalance) starts over: after one, faust seeks the
    partitions to their committed offsets and fetches what lies past them anew. A range
    read back with no record in it (transaction markers only) is not stalled again. A
    stalled range is at most ``max_span`` offsets from its start: a stuck partition's
    backlog is read back a part per look.
    """

    def __init__(self, max_span: int) -> None:
        self.max_span = max_span
        self._generation: int | None = None
        # partition -> (progress point, end) at the previous look
        self._pending: dict[int, tuple[int, int]] = {}
        # partition -> (progress point, end) of a range that held no record
        self._empty: dict[int, tuple[int, int]] = {}

    def look(
        self, generation: int, ends: Mapping[int, int], progress: Callable[[int], int]
    ) -> list[Gap]:
        """The stalled ranges now."""
        if generation != self._generation:
            self.forget()
            self._generation = generation
        before, self._pending = self._pending, {}
        stalled = []
        for partition, end in sorted(ends.items()):
            start = progress(partition)
            empty = self._empty.get(partition)
            if empty is not None and (empty[0] != start or empty[1] < end):
                del self._empty[partition]  # progress, or records since
            elif empty is not None:
                continue
            if end <= start:
                continue
            self._pending[partition] = (start, end)
            previous = before.get(partition)
            if previous is not None and previous[0] == start:
                stalled.append(Gap(partition, start, min(previous[1], start + self.max_span)))
        return stalled

    def empty(self, gap: Gap) -> None:
        """``gap`` was read back and held no record: unless its partition progresses or
        more records arrive, it is not stalled again."""
        self._empty[gap.partition] = (gap.start, gap.end)

    def forget(self) -> None:
        """Start over (a rebalance is under way): nothing pending is stalled yet."""
        self._generation = None
        self._pending = {}
        self._empty = {}


def progress_point(
    partition: int,
    applied: Callable[[int], int | None],
    first: Callable[[int], int],
    committed: Mapping[int, int],
) -> int:
    """The first offset of ``partition`` not known to be done: the one after its applied
    mark (``first``, the log start, when never applied) or the group's committed offset if
    that is lower. A record is done only once acknowledged: after a crash the committed
    offset can lag the mark, and if
    faust then drops the redelivery without committing past it, the partition's commits
    stop there for good (its consumer lag never clears, a restart re-reads it all)."""
    start = _next_to_apply(partition, applied, first)
    if partition in committed:
        return min(start, committed[partition])
    return start


def unmoved(gaps: Iterable[Gap], progress: Callable[[int], int]) -> list[Gap]:
    """The gaps whose partition has made no progress past the gap's start (checked again
    under the agent's lock, after a batch may have done them)."""
    return [gap for gap in gaps if progress(gap.partition) == gap.start]


def _next_to_apply(
    partition: int, applied: Callable[[int], int | None], first: Callable[[int], int]
) -> int:
    mark = applied(partition)
    return first(partition) if mark is None else mark + 1


def fill(records: Sequence[SourceRecord], found: Iterable[SourceRecord]) -> list[SourceRecord]:
    """The batch with the records read from the holes, each partition in offset order and
    each offset once (faust can deliver a record after a later one, which then made the
    hole that was read back)."""
    unique = {(r.partition, r.offset): r for r in [*found, *records]}
    return [unique[position] for position in sorted(unique)]


def gap_marks(gaps: Iterable[Gap], applied: Callable[[int], int | None]) -> dict[int, int]:
    """The marks that gaps read back and decided raise: each to its gap's last offset,
    applied even where the gap held only transaction markers (never lowered)."""
    marks: dict[int, int] = {}
    for gap in gaps:
        previous = marks.get(gap.partition, applied(gap.partition))
        if previous is None or gap.end - 1 > previous:
            marks[gap.partition] = gap.end - 1
    return marks


def advanced_marks(
    records: Iterable[SourceRecord], applied: Callable[[int], int | None]
) -> dict[int, int]:
    """The partitions whose highest applied offset this batch raises, with the new value."""
    highest: dict[int, int] = {}
    for record in records:
        if record.offset > highest.get(record.partition, -1):
            highest[record.partition] = record.offset
    marks = {}
    for partition, offset in highest.items():
        previous = applied(partition)
        if previous is None or offset > previous:
            marks[partition] = offset
    return marks
