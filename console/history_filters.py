"""An account page's history filters: parsed from the query string, validated, and written
back into the links of the next page (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from ingest_api.errors import InvalidRequest
from ingest_api.readside import decode_cursor
from schemas.enums import Outcome

PAGE_SIZE = 50


class InvalidFilter(ValueError):
    """A filter the page cannot apply; its message is shown to the user."""


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    """What the history shows: an outcome, a range of UTC days (both inclusive), a page."""

    outcome: Outcome | None = None
    since: date | None = None
    until: date | None = None
    cursor: str | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The event-time range as readside.history takes it: [from 00:00, the day after to)."""
        start = datetime.combine(self.since, time(), UTC) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), UTC) if self.until else None
        return start, end

    def query(self, cursor: str | None = None) -> str:
        """The query string of these filters at `cursor` (None: the newest page)."""
        pairs = {
            "outcome": self.outcome.value if self.outcome else None,
            "from": self.since.isoformat() if self.since else None,
            "to": self.until.isoformat() if self.until else None,
            "cursor": cursor,
        }
        return urlencode({key: value for key, value in pairs.items() if value})

    def first_page(self) -> HistoryFilters:
        return replace(self, cursor=None)


def parse_filters(
    outcome: str | None, since: str | None, until: str | None, cursor: str | None
) -> HistoryFilters:
    """The filters a form sent; an empty field means "any". Raises InvalidFilter."""
    filters = HistoryFilters(
        outcome=_outcome(outcome or None),
        since=_day("from", since or None),
        until=_day("to", until or None),
        cursor=_cursor(cursor or None),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidFilter("the 'from' date is after the 'to' date")
    return filters


def _outcome(value: str | None) -> Outcome | None:
    if value is None:
        return None
    try:
        return Outcome(value)
    except ValueError:
        raise InvalidFilter(f"unknown outcome {value!r}") from None


def _day(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFilter(f"'{name}' must be a date as YYYY-MM-DD") from None


def _cursor(value: str | None) -> str | None:
    """A cursor the read side wrote (an id and an aware time in it), or InvalidFilter."""
    if value is None:
        return None
    try:
        decode_cursor(value)
    except InvalidRequest:
        raise InvalidFilter("the page link is malformed; start again from the newest") from None
    return value
