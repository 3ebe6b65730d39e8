"""The agent's own check that every source offset is applied once, in order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stream_agents.continuity import (
    Gap,
    advanced_marks,
    decode_mark,
    encode_mark,
    fill,
    find_gaps,
    is_mark_key,
    mark_key,
    tail_gaps,
    unapplied,
)
from stream_agents.pipeline import SourceRecord


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


def test_unapplied_drops_what_the_marks_cover_and_keeps_the_order() -> None:
    records = [rec(1, 4), rec(0, 5), rec(0, 6), rec(1, 2), rec(2, 0)]
    fresh = unapplied(records, {0: 5, 1: 3}.get)
    assert [(r.partition, r.offset) for r in fresh] == [(1, 4), (0, 6), (2, 0)]


def test_a_commit_past_the_mark_is_a_hole_at_the_partitions_end() -> None:
    committed = {0: 10, 1: 6, 2: 3, 3: 8}
    # 0: applied through 9 (no hole); 1: committed 6 but applied only through 3;
    # 2: a redelivery pending, committed behind the mark; 3: never applied, committed
    # past its log start (0 here, 8 after retention).
    marks = {0: 9, 1: 3, 2: 5, 3: None}
    assert tail_gaps(committed, marks.get, from_zero) == [Gap(1, 4, 6), Gap(3, 0, 8)]
    assert tail_gaps(committed, marks.get, {3: 8}.get) == [Gap(1, 4, 6)]


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
