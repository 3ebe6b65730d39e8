"""Which offsets may be committed when records finish out of order.

Records of one partition are handled concurrently (a retry may wait minutes while later
ones are done in milliseconds), so a partition's commit point is its oldest unfinished
record: everything below it is done. A crash redelivers from there; receivers drop the
repeats by event id.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

Place = tuple[str, int]


@dataclass(slots=True)
class _Partition:
    pending: list[int] = field(default_factory=list)  # a heap, lazily cleaned
    done: set[int] = field(default_factory=set)
    next_offset: int = -1  # one past the highest offset started
    committed: int = -1

    def commit_point(self) -> int:
        while self.pending and self.pending[0] in self.done:
            self.done.discard(heapq.heappop(self.pending))
        return self.pending[0] if self.pending else self.next_offset


class OffsetTracker:
    """Thread-safe: a rebalance callback reads it from the consumer's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._partitions: dict[Place, _Partition] = {}

    def started(self, place: Place, offset: int) -> None:
        with self._lock:
            part = self._partitions.setdefault(place, _Partition())
            heapq.heappush(part.pending, offset)
            part.next_offset = max(part.next_offset, offset + 1)

    def finished(self, place: Place, offset: int) -> None:
        with self._lock:
            part = self._partitions.get(place)
            if part is not None:  # None: the partition was revoked meanwhile
                part.done.add(offset)

    def pending(self) -> int:
        with self._lock:
            return sum(len(p.pending) - len(p.done) for p in self._partitions.values())

    def to_commit(self, places: Iterable[Place] | None = None) -> dict[Place, int]:
        """Commit points that moved since they were last taken (of `places`, or all)."""
        with self._lock:
            wanted = self._partitions.keys() if places is None else places
            moved: dict[Place, int] = {}
            for place in list(wanted):
                part = self._partitions.get(place)
                if part is None:
                    continue
                point = part.commit_point()
                if point > part.committed:
                    moved[place] = point
            return moved

    def committed(self, points: dict[Place, int]) -> None:
        with self._lock:
            for place, point in points.items():
                if place in self._partitions:
                    self._partitions[place].committed = point

    def forget(self, places: Iterable[Place]) -> None:
        """Drop revoked partitions: their unfinished records belong to the next owner now."""
        with self._lock:
            for place in places:
                self._partitions.pop(place, None)
