"""The agent's own check that every source offset is applied once, in order."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from decision_core.records import SourceRecord
from stream_agents.continuity import (
    Gap,
    StallWatch,
    advanced_marks,
    decode_mark,
    encode_mark,
    fill,
    find_gaps,
    gap_marks,
    is_mark_key,
    mark_key,
    progress_point,
    tail_gaps,
    unmoved,
)


def rec(partition: int, offset: int) -> SourceRecord:
    return SourceRecord("t", partition, offset, 0, b"k", b"v")


def never_seen(_partition: int) -> int | None:
    return None


def from_zero(_partition: int) -> int:
    """Every partition's log starts at offset 0."""
    return 0


def test_a_contiguous_batch_after_the_mark_has_no_gap() -> None:
    records = [rec(0, 5), rec(1, 0), rec(0, 6), rec(0, 7)]
    assert find_gaps(records, {0: 4, 1: None}.get, from_zero) == []


def test_a_record_past_the_next_offset_reveals_the_hole_before_it() -> None:
    assert find_gaps([rec(0, 9)], {0: 4}.get, from_zero) == [Gap(0, 5, 9)]


def test_holes_inside_the_batch_are_found_per_partition() -> None:
    records = [rec(0, 5), rec(1, 3), rec(0, 8), rec(1, 4), rec(1, 10)]
    assert find_gaps(records, {0: 4, 1: 2}.get, from_zero) == [Gap(0, 6, 8), Gap(1, 5, 10)]


def test_a_partition_never_applied_counts_from_its_log_start() -> None:
    # Retention moved the log start to 1000: nothing before it to apply.
    assert find_gaps([rec(3, 1000), rec(3, 1001)], never_seen, {3: 1000}.get) == []
    # faust dropped 0..999 around a rebalance and delivered 1000 first: a hole, though no
    # mark existed to reveal it.
    assert find_gaps([rec(3, 1000), rec(3, 1001)], never_seen, from_zero) == [Gap(3, 0, 1000)]


def test_the_log_start_is_asked_only_for_partitions_never_applied() -> None:
    def no_log_start(partition: int) -> int:
        raise AssertionError(f"log start of {partition} asked")

    assert find_gaps([rec(0, 5), rec(0, 6)], {0: 4}.get, no_log_start) == []
    assert tail_gaps({0: 7}, {0: 6}.get, no_log_start) == []


def test_redeliveries_at_or_below_the_mark_are_not_holes() -> None:
    records = [rec(0, 2), rec(0, 3), rec(0, 5)]
    assert find_gaps(records, {0: 5}.get, from_zero) == []


def test_fill_puts_each_partition_in_offset_order() -> None:
    filled = fill([rec(1, 4), rec(0, 9)], [rec(0, 7), rec(0, 8)])
    assert [(r.partition, r.offset) for r in filled] == [(0, 7), (0, 8), (0, 9), (1, 4)]


def test_fill_keeps_each_offset_once_when_a_record_came_after_a_later_one() -> None:
    # 9 arrived before 8: 8 was read back as a hole, and faust delivered it too.
    batch = [rec(0, 9), rec(0, 8)]
    found = [rec(0, 8)]
    assert find_gaps(batch, {0: 7}.get, from_zero) == [Gap(0, 8, 9)]
    assert [(r.partition, r.offset) for r in fill(batch, found)] == [(0, 8), (0, 9)]


def test_a_commit_past_the_mark_is_a_hole_at_the_partitions_end() -> None:
    committed = {0: 10, 1: 6, 2: 3, 3: 8}
    # 0: applied through 9 (no hole); 1: committed 6 but applied only through 3;
    # 2: a redelivery pending, committed behind the mark; 3: never applied, committed
    # past its log start (0 here, 8 after retention).
    marks = {0: 9, 1: 3, 2: 5, 3: None}
    assert tail_gaps(committed, marks.get, from_zero) == [Gap(1, 4, 6), Gap(3, 0, 8)]
    assert tail_gaps(committed, marks.get, {3: 8}.get) == [Gap(1, 4, 6)]


def past_marks(marks: dict[int, int | None]) -> Callable[[int], int]:
    """Progress as the applied marks alone tell it (everything applied acknowledged)."""
    return lambda partition: progress_point(partition, marks.get, from_zero, {})


def test_records_past_a_point_that_did_not_move_for_a_look_are_stalled() -> None:
    watch = StallWatch(max_span=100)
    marks: dict[int, int | None] = {0: 9, 1: 3, 2: None, 3: 4}
    # 0: caught up; 1: 4..7 pending; 2: never applied, 0..4 pending; 3: caught up.
    assert watch.look(1, {0: 10, 1: 8, 2: 5, 3: 5}, past_marks(marks)) == []
    # 1 applied some of its records meanwhile; 2 applied nothing; 3 has new records.
    marks[1] = 5
    stalled = watch.look(1, {0: 10, 1: 9, 2: 7, 3: 6}, past_marks(marks))
    # Only what was there at the first look: 5 and 6 of partition 2 just arrived.
    assert stalled == [Gap(2, 0, 5)]
    # A stall stays one until done, and grows by what waited a look since.
    assert watch.look(1, {0: 10, 1: 9, 2: 7, 3: 6}, past_marks(marks)) == [
        Gap(1, 6, 9),
        Gap(2, 0, 7),
        Gap(3, 5, 6),
    ]


def test_a_new_generation_or_a_rebalance_starts_the_watch_over() -> None:
    watch = StallWatch(max_span=100)
    progress = past_marks({0: 3})
    assert watch.look(1, {0: 8}, progress) == []
    assert watch.look(2, {0: 8}, progress) == []  # rebalanced since: a first look
    assert watch.look(2, {0: 8}, progress) == [Gap(0, 4, 8)]
    watch.forget()
    assert watch.look(2, {0: 8}, progress) == []


def test_a_partition_whose_end_is_not_known_is_not_judged() -> None:
    watch = StallWatch(max_span=100)
    progress = past_marks({0: 3, 1: 3})
    watch.look(1, {0: 8, 1: 8}, progress)
    # The broker did not answer for partition 1 this time.
    assert watch.look(1, {0: 8}, progress) == [Gap(0, 4, 8)]
    assert watch.look(1, {0: 8, 1: 8}, progress) == [Gap(0, 4, 8)]


def test_a_stalled_range_is_read_back_a_part_at_a_time() -> None:
    watch = StallWatch(max_span=3)
    progress = past_marks({0: 3})
    watch.look(1, {0: 50}, progress)
    assert watch.look(1, {0: 50}, progress) == [Gap(0, 4, 7)]


def test_a_range_read_back_empty_is_not_stalled_again_until_records_come() -> None:
    # Offset 4 is a transaction's commit marker at the partition's end: the group's
    # committed offset stays on it, past the mark, as faust commits.
    watch = StallWatch(max_span=100)
    progress = past_marks({0: 3})
    watch.look(1, {0: 5}, progress)
    [gap] = watch.look(1, {0: 5}, progress)
    watch.empty(gap)
    assert watch.look(1, {0: 5}, progress) == []
    assert watch.look(1, {0: 5}, progress) == []
    # A record after it: pending again from the same point, stalled a look later.
    assert watch.look(1, {0: 6}, progress) == []
    assert watch.look(1, {0: 6}, progress) == [Gap(0, 4, 6)]


def test_progress_stops_at_what_was_not_acknowledged() -> None:
    marks = {0: 9, 1: 3, 2: None}.get
    committed = {0: 6, 1: 4}
    # 0: applied through 9, acknowledged through 5: 6..9 may lack their decisions.
    assert progress_point(0, marks, from_zero, committed) == 6
    assert progress_point(1, marks, from_zero, committed) == 4
    assert progress_point(2, marks, from_zero, committed) == 0
    # faust committed past the mark (``tail_gaps``' case): the mark tells.
    assert progress_point(1, marks, from_zero, {1: 8}) == 4
    assert progress_point(0, marks, from_zero, {}) == 10


def test_unmoved_keeps_only_gaps_nothing_was_done_of_since() -> None:
    gaps = [Gap(0, 4, 8), Gap(1, 0, 3), Gap(2, 6, 9)]
    progress = past_marks({0: 3, 1: None, 2: 7})
    assert unmoved(gaps, progress) == [Gap(0, 4, 8), Gap(1, 0, 3)]


def test_gaps_raise_marks_to_their_last_offset_and_never_lower_them() -> None:
    gaps = [Gap(0, 4, 8), Gap(1, 2, 5), Gap(2, 0, 3), Gap(0, 8, 9)]
    assert gap_marks(gaps, {0: 3, 1: 9, 2: None}.get) == {0: 8, 2: 2}


def test_marks_advance_only_forwards() -> None:
    records = [rec(0, 3), rec(0, 7), rec(1, 2)]
    assert advanced_marks(records, {0: 5, 1: 9}.get) == {0: 7}
    assert advanced_marks(records, never_seen) == {0: 7, 1: 2}


def test_mark_keys_cannot_be_account_ids() -> None:
    assert is_mark_key(mark_key(11)) and not is_mark_key(b"acct-11")
    assert not "\x00applied:11".isprintable()  # the pipeline dead-letters such account ids
    assert decode_mark(encode_mark(12345)) == 12345 and decode_mark(None) is None


@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=40, unique=True),
    st.one_of(st.none(), st.integers(-1, 20)),
)
def test_filling_the_gaps_yields_every_offset_after_the_mark(
    delivered: list[int], mark: int | None
) -> None:
    """Whatever subset the consumer delivers, the batch plus its holes covers every offset
    from the mark (the log start when nothing was applied) to the last one delivered, once
    each."""
    records = [rec(0, offset) for offset in sorted(delivered)]
    applied = {0: mark}.get
    found = [
        rec(0, offset)
        for gap in find_gaps(records, applied, from_zero)
        for offset in range(gap.start, gap.end)
    ]
    filled = {r.offset for r in fill(records, found)}
    start = 0 if mark is None else mark + 1
    top = max(delivered)
    if top >= start:
        assert set(range(start, top + 1)) <= filled
    assert len(found) == len({r.offset for r in found})
