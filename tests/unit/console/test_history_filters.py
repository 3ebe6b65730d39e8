"""The account page's history filters and page links (no services)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import pytest

from console.history_filters import HistoryFilters, InvalidFilter, parse_filters
from ingest_api.readside import decode_cursor, encode_cursor
from schemas.enums import Outcome

CURSOR = encode_cursor(datetime(2026, 12, 4, 10, 30, tzinfo=UTC), "gw/42 ü")


def test_empty_fields_mean_any() -> None:
    assert parse_filters("", "", "", "") == HistoryFilters()
    assert parse_filters(None, None, None, None).bounds() == (None, None)


def test_days_are_utc_and_both_inclusive() -> None:
    filters = parse_filters("DECLINE", "2026-12-01", "2026-12-03", None)
    assert filters.outcome is Outcome.DECLINE
    assert filters.bounds() == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 4, tzinfo=UTC),  # readside's `to` is exclusive: the day after
    )
    one_day = parse_filters(None, "2026-12-31", "2026-12-31", None)
    assert one_day.bounds() == (
        datetime(2026, 12, 31, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("approve", None, None, None), "unknown outcome"),
        (("MAYBE", None, None, None), "unknown outcome"),
        ((None, "2026-13-01", None, None), "'from' must be a date"),
        ((None, None, "1 Dec 2026", None), "'to' must be a date"),
        ((None, "20261201", None, None), "'from' must be a date"),
        ((None, "2026-12-02", "2026-12-01", None), "after the 'to' date"),
        ((None, None, None, "%%%"), "page link is malformed"),
        ((None, None, None, CURSOR[:-3]), "page link is malformed"),
    ],
)
def test_what_cannot_be_applied_is_refused_with_a_message(
    fields: tuple[str | None, ...], message: str
) -> None:
    with pytest.raises(InvalidFilter, match=message):
        parse_filters(*fields)


def test_a_cursor_the_read_side_wrote_is_kept_as_it_came() -> None:
    filters = parse_filters(None, None, None, CURSOR)
    assert filters.cursor == CURSOR
    assert decode_cursor(filters.cursor) == (datetime(2026, 12, 4, 10, 30, tzinfo=UTC), "gw/42 ü")


def test_the_next_page_link_keeps_the_filters_and_carries_the_cursor() -> None:
    filters = HistoryFilters(Outcome.REVIEW, date(2026, 12, 1), date(2026, 12, 3), CURSOR)
    assert parse_qs(filters.query("next-cursor")) == {
        "outcome": ["REVIEW"],
        "from": ["2026-12-01"],
        "to": ["2026-12-03"],
        "cursor": ["next-cursor"],
    }
    # The newest page: the same filters, no cursor; and no filter writes an empty query.
    assert "cursor" not in parse_qs(filters.query())
    assert HistoryFilters().query() == ""
    assert filters.first_page() == HistoryFilters(Outcome.REVIEW, filters.since, filters.until)


def test_a_link_parses_back_to_the_same_filters() -> None:
    filters = HistoryFilters(Outcome.APPROVE, date(2026, 11, 2), None, None)
    query = {key: value[0] for key, value in parse_qs(filters.query(CURSOR)).items()}
    parsed = parse_filters(
        query.get("outcome"), query.get("from"), query.get("to"), query["cursor"]
    )
    assert parsed == HistoryFilters(Outcome.APPROVE, date(2026, 11, 2), None, CURSOR)
