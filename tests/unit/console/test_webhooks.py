"""The webhooks page's pure parts: URLs shown without credentials, dead letters per
subscription."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.webhooks import SUBSCRIPTION_HEADER, dead_lettered, shown_url
from dlq.letters import Letter, LetterId
from schemas.records import DeadLetter

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def test_a_url_is_shown_without_userinfo_query_or_fragment() -> None:
    assert shown_url("https://user:pw@hooks.example.com/in?token=abc#x") == (
        "https://***@hooks.example.com/in?…"
    )
    assert shown_url("https://hooks.example.com/in") == "https://hooks.example.com/in"


def letter(n: int, sub: str | None, minutes: int, error: str) -> Letter:
    headers = {SUBSCRIPTION_HEADER: sub} if sub else {}
    dead = DeadLetter(
        source_topic="webhooks",
        partition=0,
        offset=n,
        key=None,
        value=b"event",
        error_code="webhook_retries_exhausted",
        error_message=error,
        failed_at=T0 + timedelta(minutes=minutes),
        headers=headers,
    )
    return Letter(LetterId(0, n), dead)


def test_dead_letters_are_counted_per_subscription_with_the_newest_error() -> None:
    stats = dead_lettered(
        [
            letter(0, "a", 5, "8 attempts; the last: HTTP 500"),
            letter(1, "a", 1, "8 attempts; the last: timeout"),
            letter(2, "b", 2, "card 4111111111111111 in the error"),
            letter(3, None, 9, "undecodable"),
        ]
    )
    assert set(stats) == {"a", "b"}
    assert (stats["a"].count, stats["a"].last_at) == (2, T0 + timedelta(minutes=5))
    assert stats["a"].last_error.endswith("HTTP 500")
    assert "4111111111111111" not in stats["b"].last_error
