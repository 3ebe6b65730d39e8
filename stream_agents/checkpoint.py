"""The one checkpoint per source partition: its applied mark, and what the agent decides next.

The mark is the highest source offset whose decisions, states and mark the broker holds
(the agent publishes a batch's decisions, then its states and marks, then acknowledges it:
``stream_agents.agent``). It lives in the feature table, so it travels with the partition
on a rebalance and is restored with the states. It is the source of truth for where a
partition stands; faust's committed offset is only a hint:

- a record at or below the mark is a redelivery (a crash between the mark and the commit,
  or faust seeking back to its committed offset): dropped, never decided again; its
  decisions are on the broker already;
- the record right after the mark (``mark + 1``; the log start when there is no mark) is
  decided, and so is each one after it, in order;
- a record further on reveals a hole: faust 0.15 can drop records around a rebalance and
  even commit past them (docs/adr/0001-faust-commit-bookkeeping.md). The partition is
  sought back to ``mark + 1`` through faust's public ``Consumer.seek``, and what faust
  delivers again from there is decided. Nothing past a hole is ever decided before it.
- a partition whose end is past its next offset and that made no progress for a while
  (records faust fetched and dropped at a partition's end, where no later record
  reveals them) is sought back the same way (``look``).

Two of faust's habits shape the seek. Records delivered *before* a seek keep arriving for
a while after it (faust's stream buffer, and the fetch it was iterating), each raising
faust's read offset: re-fetched records below it are then dropped again. So a record past
every offset seen when the seek was asked (``Seek.high``) is stale: dropped, and the
partition sought again once things are quiet. And offsets may hold no record at all (a
transactional producer's commit markers, e.g. ``sentinel dlq redrive``): a jump from the
seek's target to a record that was already seen (so, re-read after the seek, not stale)
is taken as an empty range only when two seeks a quiet interval apart both land on it.

Plain Python: no faust, no Kafka; ``DecisionAgent`` asks for the seeks it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from decision_core.records import SourceRecord

log = logging.getLogger("stream_agents.checkpoint")
# Table keys of the per-partition marks: a NUL first byte, which no account id has (the
# pipeline dead-letters account ids with control characters).
_MARK_PREFIX: Final = b"\x00applied:"


def mark_key(partition: int) -> bytes:
    """The feature-table key under which a partition's applied mark is kept."""
    return _MARK_PREFIX + str(partition).encode()


def is_mark_key(key: bytes) -> bool:
    return key.startswith(_MARK_PREFIX)


def encode_mark(offset: int) -> bytes:
    return str(offset).encode()


def decode_mark(value: bytes | None) -> int | None:
    return None if value is None else int(value)


@dataclass(slots=True)
class Seek:
    """A partition being brought back to ``target``, its next offset to decide."""

    target: int
    # The highest offset of the partition delivered when the seek was (last) asked: a
    # record past it was delivered before the seek took effect.
    high: int
    generation: int
    # When the seek was last asked of faust; None: ask at the end of the current batch.
    asked_at: float | None = None
    asks: int = 0
    # A record past the target, re-read after the last ask: where that ask landed.
    landed: int | None = None
    # Whether anything of the partition was delivered since the last ask.
    heard: bool = False


@dataclass(frozen=True, slots=True)
class Admitted:
    """A batch sorted out: what to decide, in order, and what was dropped."""

    records: list[SourceRecord]
    redelivered: int
    held_back: int


class Checkpoint:
    """One worker's seeks, and its view of where each assigned partition stands."""

    def __init__(self, quiet_s: float, stall_s: float, clock: Callable[[], float]) -> None:
        self.quiet_s = quiet_s
        self.stall_s = stall_s
        self.clock = clock
        self.seeks: dict[int, Seek] = {}
        self._high: dict[int, int] = {}  # partition -> highest offset delivered
        # partition -> (progress point, since when, sought since): records waiting, no move
        self._still: dict[int, tuple[int, float, bool]] = {}
        self._empty: dict[int, tuple[int, int]] = {}  # (next offset, end) that held nothing

    def admit(
        self, batch: Sequence[tuple[SourceRecord, int]], next_offset: Callable[[int], int]
    ) -> Admitted:
        """The records of ``batch`` (each with faust's consumer generation) to decide:
        for each partition, the run that starts at its next offset. ``next_offset`` is the
        mark + 1 (the log start without a mark), before this batch."""
        expected: dict[int, int] = {}
        chosen: list[SourceRecord] = []
        redelivered = held_back = 0
        for record, generation in batch:
            p = record.partition
            if p not in expected:
                expected[p] = next_offset(p)
            self._high[p] = max(self._high.get(p, -1), record.offset)
            if record.offset < expected[p]:
                redelivered += 1
            elif self._takes(record, generation, expected[p]):
                chosen.append(record)
                expected[p] = record.offset + 1
            else:
                held_back += 1
        return Admitted(chosen, redelivered, held_back)

    def _takes(self, record: SourceRecord, generation: int, expected: int) -> bool:
        """Whether ``record`` (at or past ``expected``) is the partition's next."""
        p, offset = record.partition, record.offset
        seek = self.seeks.get(p)
        if seek is not None and generation > seek.generation:
            # faust sought the partition itself since (a rebalance): start over.
            del self.seeks[p]
            seek = None
        if seek is None:
            if offset == expected:
                return True
            self.seeks[p] = Seek(target=expected, high=self._high[p], generation=generation)
            log.warning("partition %d: offset %d, not %d: seeking back", p, offset, expected)
            return False
        first, seek.heard = not seek.heard, True
        if offset == expected or (first and self._lands(p, seek, offset, generation)):
            del self.seeks[p]
            return True
        if offset > seek.high:
            seek.high = offset  # delivered before the seek took effect: ask again
        return False

    def _lands(self, p: int, seek: Seek, offset: int, generation: int) -> bool:
        """Whether ``offset``, the first record heard since the last ask, is where the
        seek lands for the second ask in a row: the offsets between the target and it
        hold no record. A record past ``high`` was delivered before the ask (stale)."""
        if seek.asked_at is None or generation < seek.generation or offset > seek.high:
            return False
        if seek.landed == offset and seek.asks >= 2:
            log.warning("partition %d: offsets %d..%d hold no record", p, seek.target, offset - 1)
            return True
        seek.landed = offset
        return False

    def due(self, generation: int, assigned: Iterable[int]) -> dict[int, int]:
        """The seeks to ask of faust now (partition -> offset), marked as asked: new ones
        at once, repeated ones a quiet interval after the last ask (an ask that brought
        nothing back is repeated once; then ``look`` decides)."""
        now = self.clock()
        asked = {}
        for p in set(self.seeks) & set(assigned):
            seek = self.seeks[p]
            if seek.asked_at is not None and (
                now - seek.asked_at < self.quiet_s or (not seek.heard and seek.asks >= 2)
            ):
                continue
            seek.asked_at, seek.asks, seek.heard = now, seek.asks + 1, False
            seek.high = max(seek.high, self._high.get(p, -1))
            seek.generation = generation
            asked[p] = seek.target
        return asked

    def look(
        self,
        ends: Mapping[int, int | None],
        committed: Mapping[int, int | None],
        next_offset: Callable[[int], int],
        generation: int,
    ) -> dict[int, int]:
        """Each assigned partition (``ends``: its end offset) against its progress point:
        its next offset, or faust's committed offset if that is lower. A point with
        records waiting past it that did not move for ``stall_s`` is a stall:

        - past the mark (records faust dropped at a partition's end, where no later record
          reveals them): the partition is sought back to its next offset (``seeks``);
        - below it (faust dropped a redelivery after a crash, so nothing acknowledges it
          and faust's commits stop there for good): returned, to seek back to the
          committed offset once, so the redeliveries come and are acknowledged.

        A stall that a seek did not move is not sought again until the partition moves or
        grows (the range holds no record: transaction markers). Partitions not in ``ends``
        are forgotten."""
        self._forget_unassigned(ends.keys())
        now = self.clock()
        rewinds: dict[int, int] = {}
        for p, end in ends.items():
            at = next_offset(p)
            mark_or_commit = committed.get(p)
            point = at if mark_or_commit is None else min(at, mark_or_commit)
            if end is None or end <= point or self._empty.get(p) == (point, end):
                self._still.pop(p, None)
                continue
            seek = self.seeks.get(p)
            if seek is not None:
                self._give_up_if_empty(p, seek, point, end)
                continue
            if self._stalled(p, point, end, now):
                if point < at:
                    rewinds[p] = point
                else:
                    self.seeks[p] = Seek(point, self._high.get(p, point - 1), generation)
        return rewinds

    def unsettled(self) -> None:
        """A rebalance or a recovery is under way: partitions are not moving because of
        it, so no stall is timed through it."""
        self._still.clear()

    def _stalled(self, p: int, point: int, end: int, now: float) -> bool:
        """Whether ``p`` stands at ``point`` with records up to ``end`` waiting, unmoved
        for ``stall_s``: to seek back once; unmoved again as long after, it is empty."""
        previous = self._still.get(p)
        if previous is None or previous[0] != point:
            self._still[p] = (point, now, False)
            return False
        if now - previous[1] < self.stall_s:
            return False
        if previous[2]:
            self._empty[p] = (point, end)  # sought once already: nothing came of it
            return False
        self._still[p] = (point, now, True)
        log.warning("partition %d: no progress past %d (end %d): seeking back", p, point, end)
        return True

    def _give_up_if_empty(self, p: int, seek: Seek, point: int, end: int) -> None:
        """Two asks that brought nothing back: the range up to the end holds no record
        (markers); not sought again until the partition moves or grows."""
        quiet = self.clock() - (seek.asked_at or 0) >= self.quiet_s
        if seek.asks >= 2 and not seek.heard and quiet:
            del self.seeks[p]
            self._empty[p] = (point, end)

    def _forget_unassigned(self, assigned: Iterable[int]) -> None:
        keep = set(assigned)
        for table in (self.seeks, self._high, self._still, self._empty):
            for p in [p for p in table if p not in keep]:
                del table[p]


def advanced_marks(records: Iterable[SourceRecord]) -> dict[int, int]:
    """The highest offset of each partition in ``records``: its mark once they are done
    (``Checkpoint.admit`` admits only offsets past the mark)."""
    marks: dict[int, int] = {}
    for record in records:
        if record.offset > marks.get(record.partition, -1):
            marks[record.partition] = record.offset
    return marks
