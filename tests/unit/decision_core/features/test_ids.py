"""Tests for decision_core.features.ids: the ids column behaves as a plain list of ids."""

from __future__ import annotations

import uuid
from bisect import bisect_left

from hypothesis import given
from hypothesis import strategies as st

from decision_core.features.ids import IdColumn, pack_uuids, unpack_uuids, uuid_bytes

CANONICAL = st.integers(0, 2**128 - 1).map(lambda n: str(uuid.UUID(int=n)))
OTHER = st.sampled_from(["tx-1", "tx-2", "A" * 36, "", "é"]) | CANONICAL.map(str.upper)


@given(
    st.lists(st.tuples(st.booleans(), CANONICAL | OTHER), max_size=30),
    st.integers(0, 40),
    st.lists(CANONICAL | OTHER, max_size=5),
)
def test_the_column_answers_as_a_list_would(
    inserts: list[tuple[bool, str]], dropped: int, strangers: list[str]
) -> None:
    """Appended ids (a later event time) or ids sorted among the whole column (all of one
    event time), any shape, then the oldest dropped: rows, lookups and the text agree with
    a list doing the same."""
    column, model = IdColumn(), []
    for in_order, event_id in inserts:
        if event_id in model:
            continue  # a remembered id is a redelivery, never inserted again
        lo, hi = (0, len(model)) if in_order and model == sorted(model) else (len(model),) * 2
        at = bisect_left(model, event_id, lo, hi)
        model.insert(at, event_id)
        assert column.insert(lo, hi, event_id) == at
    column.drop_first(min(dropped, len(model)))
    del model[: min(dropped, len(model))]
    assert column.to_list() == model
    assert len(column) == len(model)
    assert [column[row] for row in range(len(model))] == model
    if model and pack_uuids(model) is None:  # an id of another shape is kept as text
        assert column.strings is not None
    for row, event_id in enumerate(model):
        assert column.find(event_id) == row
    for event_id in strangers:
        assert column.find(event_id) == (model.index(event_id) if event_id in model else None)


def test_a_match_straddling_two_packed_ids_is_no_match() -> None:
    first, second = uuid.UUID(int=0x0123456789ABCDEF << 64), uuid.UUID(int=0xFEDCBA9876543210)
    column = IdColumn.of([str(first), str(second)])
    straddling = uuid.UUID(bytes=first.bytes[8:] + second.bytes[:8])
    assert column.find(str(straddling)) is None
    assert column.find(str(second)) == 1


def test_only_canonical_lowercase_uuid_text_has_bytes() -> None:
    text = "2f1e4c3a-0000-4000-8000-00000000000a"
    assert uuid_bytes(text) == uuid.UUID(text).bytes
    for other in [text.upper(), text.replace("-", ""), text[:8] + " " + text[9:], "x" * 36]:
        assert uuid_bytes(other) is None
    assert unpack_uuids(uuid.UUID(text).bytes * 2, 2) == [text, text]
