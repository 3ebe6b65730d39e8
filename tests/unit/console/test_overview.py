"""The Overview's window: complete minutes, and the star schema's keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from console.overview import Figures, Window


def test_window_is_the_last_complete_minutes_in_utc() -> None:
    now = datetime(2026, 12, 5, 5, 30, 42, tzinfo=timezone(timedelta(hours=1)))
    window = Window.last_minutes(now, 5)
    assert window.end == datetime(2026, 12, 5, 4, 30, tzinfo=UTC)
    assert window.start == datetime(2026, 12, 5, 4, 25, tzinfo=UTC)
    assert window.seconds == 300


def test_keys_match_the_star_schema_and_cross_midnight() -> None:
    assert Window.keys(datetime(2026, 12, 5, 23, 59, tzinfo=UTC)) == (20261205, 1439)
    window = Window.last_minutes(datetime(2026, 12, 6, 0, 2, 5, tzinfo=UTC), 5)
    assert Window.keys(window.start) == (20261205, 1437)
    assert Window.keys(window.end) == (20261206, 2)


def test_rate_and_shares() -> None:
    window = Window.last_minutes(datetime(2026, 12, 5, 4, 0, tzinfo=UTC), 5)
    figures = Figures(window, 600, {"APPROVE": 540, "DECLINE": 60}, 12.0, 20.0, 31.0)
    assert figures.per_second == 2.0
    assert figures.share("APPROVE") == 0.9
    assert figures.share("REVIEW") == 0.0
    empty = Figures(window, 0, {}, None, None, None)
    assert empty.share("APPROVE") == 0.0


def test_minutes_and_bounds_of_a_window() -> None:
    window = Window.last_minutes(datetime(2026, 12, 6, 0, 1, 59, tzinfo=UTC), 3)
    assert [m.strftime("%H:%M") for m in window.minutes] == ["23:58", "23:59", "00:00"]
    assert window.bounds() == {
        "start_date": 20261205,
        "start_time": 1438,
        "end_date": 20261206,
        "end_time": 1,
    }
