"""Letter ids and filters: which dead letters a dlq command applies to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dlq.letters import InvalidLetterId, Letter, LetterFilter, LetterId, with_marks
from schemas.records import DeadLetter

T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def letter(
    partition: int = 0,
    offset: int = 0,
    code: str = "malformed_message",
    source: str = "transactions",
    at: datetime = T0,
    redriven: bool = False,
) -> Letter:
    dead = DeadLetter(
        source_topic=source,
        partition=1,
        offset=7,
        value=b"\x00",
        error_code=code,
        error_message="bad",
        failed_at=at,
    )
    return Letter(LetterId(partition, offset), dead, redriven)


@pytest.mark.parametrize(
    ("text", "wanted"), [("0:0", LetterId(0, 0)), (" 2:1234 ", LetterId(2, 1234))]
)
def test_ids_parse(text: str, wanted: LetterId) -> None:
    assert LetterId.parse(text) == wanted
    assert str(LetterId.parse(text)) == text.strip()


@pytest.mark.parametrize("text", ["", "1", "a:1", "1:-2", "1:2:3", "dead-letter/1:2"])
def test_bad_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidLetterId):
        LetterId.parse(text)


def test_mark_keys_name_the_declared_topic() -> None:
    assert LetterId(1, 42).mark_key("webhooks.dead-letter") == "webhooks.dead-letter/1:42"


def test_an_empty_filter_matches_everything() -> None:
    letters = [letter(offset=n, code=f"c{n}") for n in range(3)]
    assert LetterFilter().empty
    assert LetterFilter().select(letters) == letters


def test_filters_combine() -> None:
    wanted = letter(offset=1, code="unknown_schema_id", at=T0 + timedelta(minutes=5))
    letters = [
        letter(offset=0, code="unknown_schema_id", at=T0 - timedelta(minutes=1)),
        wanted,
        letter(offset=2, code="invalid_transaction", at=T0 + timedelta(minutes=5)),
        letter(
            offset=3, code="unknown_schema_id", source="decisions", at=T0 + timedelta(minutes=5)
        ),
        letter(offset=4, code="unknown_schema_id", at=T0 + timedelta(hours=1)),
    ]
    chosen = LetterFilter(
        error_codes=frozenset({"unknown_schema_id"}),
        source_topics=frozenset({"transactions"}),
        since=T0,
        until=T0 + timedelta(hours=1),
    )
    assert not chosen.empty
    assert chosen.select(letters) == [wanted]


def test_ids_select_exactly_those_letters() -> None:
    letters = [letter(partition=p, offset=o) for p in range(2) for o in range(2)]
    chosen = LetterFilter(ids=frozenset({LetterId(1, 0)}))
    assert [str(x.id) for x in chosen.select(letters)] == ["1:0"]


def test_not_redriven_leaves_out_the_marked_ones() -> None:
    letters = [letter(offset=0, redriven=True), letter(offset=1)]
    assert [str(x.id) for x in LetterFilter(not_redriven=True).select(letters)] == ["0:1"]
    assert LetterFilter(not_redriven=True).empty


def test_marks_set_redriven_per_topic() -> None:
    letters = [letter(offset=0), letter(offset=1)]
    marked = with_marks(letters, {"dead-letter/0:1", "webhooks.dead-letter/0:0"}, "dead-letter")
    assert [x.redriven for x in marked] == [False, True]
