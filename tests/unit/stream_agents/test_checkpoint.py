"""The checkpoint's calls, without faust: what a batch decides, and where to seek back."""

from __future__ import annotations

from decision_core.records import SourceRecord
from stream_agents.checkpoint import Checkpoint, advanced_marks, decode_mark, encode_mark
from tests.support.clocks import ManualClock

GEN = 1


def rec(partition: int, offset: int) -> SourceRecord:
    return SourceRecord("transactions", partition, offset, 0, b"k", b"v")


def batch(*offsets: int, partition: int = 0, gen: int = GEN) -> list[tuple[SourceRecord, int]]:
    return [(rec(partition, o), gen) for o in offsets]


def make() -> tuple[Checkpoint, ManualClock]:
    clock = ManualClock(100.0)
    return Checkpoint(quiet_s=1.0, stall_s=5.0, clock=clock), clock


def offsets(records: list[SourceRecord]) -> list[int]:
    return [r.offset for r in records]


def test_the_run_from_the_mark_on_is_decided_and_redeliveries_are_dropped() -> None:
    cp, _ = make()
    admitted = cp.admit(batch(8, 9, 10, 11, 12), lambda p: 10)
    assert offsets(admitted.records) == [10, 11, 12]
    assert admitted.redelivered == 2
    assert cp.due(GEN, [0]) == {}


def test_a_hole_holds_back_everything_after_it_and_seeks_to_the_next_offset() -> None:
    cp, _ = make()
    admitted = cp.admit(batch(10, 11, 15, 16), lambda p: 10)
    assert offsets(admitted.records) == [10, 11]
    assert admitted.held_back == 2
    assert cp.due(GEN, [0]) == {0: 12}
    # Asked once: not asked again before the quiet interval.
    assert cp.due(GEN, [0]) == {}


def test_the_next_offset_is_always_taken_even_after_records_past_it() -> None:
    cp, _ = make()
    admitted = cp.admit(batch(10, 15, 11, 12), lambda p: 10)
    assert offsets(admitted.records) == [10, 11, 12]
    assert cp.seeks == {}


def test_the_records_delivered_again_after_the_seek_are_decided_in_order() -> None:
    cp, _ = make()
    cp.admit(batch(10, 15, 16), lambda p: 10)
    cp.due(GEN, [0])
    # 17 was delivered before the seek took effect (stale), then 10.. again.
    admitted = cp.admit(batch(17, 10, 11, 12), lambda p: 10)
    assert offsets(admitted.records) == [10, 11, 12]
    assert cp.seeks == {}


def test_a_stale_record_first_after_a_seek_makes_it_ask_again_once_quiet() -> None:
    cp, clock = make()
    cp.admit(batch(15), lambda p: 10)
    assert cp.due(GEN, [0]) == {0: 10}
    cp.admit(batch(16, 17), lambda p: 10)  # in flight before the seek: faust drops 10.. again
    assert cp.due(GEN, [0]) == {}
    clock.now += 1.0
    assert cp.due(GEN, [0]) == {0: 10}
    assert offsets(cp.admit(batch(10, 11), lambda p: 10).records) == [10, 11]


def test_offsets_holding_no_record_are_skipped_only_when_two_seeks_land_past_them() -> None:
    cp, clock = make()
    # 10 and 11 are transaction markers: the record after 9 is 12.
    cp.admit(batch(12, 13), lambda p: 10)
    assert cp.due(GEN, [0]) == {0: 10}
    assert cp.admit(batch(12, 13), lambda p: 10).records == []  # landed on 12 once
    clock.now += 1.0
    assert cp.due(GEN, [0]) == {0: 10}
    admitted = cp.admit(batch(12, 13, 14), lambda p: 10)
    assert offsets(admitted.records) == [12, 13, 14]
    assert cp.seeks == {}


def test_a_landing_that_is_not_the_first_record_heard_after_the_ask_proves_nothing() -> None:
    cp, clock = make()
    cp.admit(batch(12, 13), lambda p: 10)
    cp.due(GEN, [0])
    cp.admit(batch(12), lambda p: 10)  # landed on 12
    clock.now += 1.0
    cp.due(GEN, [0])
    # After the second ask, 14 (past everything seen: stale) came first, then 12.
    assert cp.admit(batch(14, 12, 13), lambda p: 10).records == []
    assert 0 in cp.seeks


def test_a_record_of_a_newer_generation_starts_over() -> None:
    cp, _ = make()
    cp.admit(batch(15), lambda p: 10)
    cp.due(GEN, [0])
    # A rebalance: faust sought to its committed offset itself; 11 is the next, so taken.
    admitted = cp.admit(batch(11, 12, gen=GEN + 1), lambda p: 11)
    assert offsets(admitted.records) == [11, 12]
    assert cp.seeks == {}


def test_records_of_an_older_generation_are_never_a_landing() -> None:
    cp, clock = make()
    cp.admit(batch(12, gen=GEN + 1), lambda p: 10)
    cp.due(GEN + 1, [0])
    assert cp.admit(batch(12, gen=GEN), lambda p: 10).records == []
    clock.now += 1.0
    cp.due(GEN + 1, [0])
    assert cp.admit(batch(12, gen=GEN + 1), lambda p: 10).records == []  # a first landing


def test_seeks_are_asked_only_for_assigned_partitions() -> None:
    cp, _ = make()
    cp.admit(batch(10, 15, partition=3), lambda p: 10)
    assert cp.due(GEN, [0, 1]) == {}
    assert cp.due(GEN, [3]) == {3: 11}


def test_a_partition_with_records_waiting_and_no_progress_is_sought_back() -> None:
    cp, clock = make()
    next_offset = {0: 10, 1: 4}.__getitem__
    ends = {0: 20, 1: 4}
    assert cp.look(ends, {}, next_offset, GEN) == {}
    clock.now += 5.0
    assert cp.look(ends, {}, next_offset, GEN) == {}
    assert cp.due(GEN, [0, 1]) == {0: 10}  # partition 1 is at its end


def test_a_partition_whose_commits_lag_the_mark_is_rewound_to_them_once() -> None:
    cp, clock = make()
    next_offset = {0: 20}.__getitem__
    assert cp.look({0: 20}, {0: 2}, next_offset, GEN) == {}
    clock.now += 5.0
    assert cp.look({0: 20}, {0: 2}, next_offset, GEN) == {0: 2}
    clock.now += 5.0
    # Nothing came of it: not again until the partition moves or grows.
    assert cp.look({0: 20}, {0: 2}, next_offset, GEN) == {}
    clock.now += 5.0
    assert cp.look({0: 20}, {0: 2}, next_offset, GEN) == {}
    assert cp.look({0: 21}, {0: 2}, next_offset, GEN) == {}
    clock.now += 5.0
    assert cp.look({0: 21}, {0: 2}, next_offset, GEN) == {0: 2}


def test_a_stall_is_not_timed_through_a_rebalance() -> None:
    cp, clock = make()
    cp.look({0: 20}, {}, lambda p: 10, GEN)
    clock.now += 4.0
    cp.unsettled()
    clock.now += 4.0
    cp.look({0: 20}, {}, lambda p: 10, GEN)
    assert cp.due(GEN, [0]) == {}


def test_a_stall_seek_that_brings_nothing_back_twice_is_given_up_as_empty() -> None:
    cp, clock = make()
    next_offset = {0: 10}.__getitem__
    cp.look({0: 11}, {}, next_offset, GEN)
    clock.now += 5.0
    cp.look({0: 11}, {}, next_offset, GEN)
    assert cp.due(GEN, [0]) == {0: 10}
    clock.now += 1.0
    assert cp.due(GEN, [0]) == {0: 10}  # nothing heard: asked once more
    clock.now += 1.0
    assert cp.due(GEN, [0]) == {}
    cp.look({0: 11}, {}, next_offset, GEN)
    assert cp.seeks == {}
    clock.now += 10.0
    cp.look({0: 11}, {}, next_offset, GEN)
    assert cp.due(GEN, [0]) == {}  # offset 10 holds no record (a marker)


def test_unassigned_partitions_are_forgotten() -> None:
    cp, _ = make()
    cp.admit(batch(10, 15, partition=2), lambda p: 10)
    cp.look({0: 5}, {}, lambda p: 5, GEN)
    assert cp.seeks == {}


def test_marks_are_the_highest_offset_per_partition() -> None:
    records = [rec(0, 4), rec(1, 9), rec(0, 5)]
    assert advanced_marks(records) == {0: 5, 1: 9}
    assert decode_mark(encode_mark(41)) == 41
    assert decode_mark(None) is None
