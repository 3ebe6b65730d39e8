"""Subscription rules without a database: what is accepted, and which events match."""

from __future__ import annotations

import pytest

from ledger_sink.errors import InvalidSubscription
from ledger_sink.webhooks.subscriptions import matches, validate
from schemas.webhook_targets import WebhookTargetPolicy

POLICY = WebhookTargetPolicy(allow_http=True, allowed_networks=())


@pytest.mark.parametrize(
    ("url", "types", "secret", "problem"),
    [
        ("ftp://x.example/h", ["*"], "s" * 16, r"not an http\(s\) URL"),
        ("http://127.0.0.1:6380/", ["*"], "s" * 16, "not a public address"),
        ("http://0x7f000001/", ["*"], "s" * 16, "not a public address"),
        ("http://2130706433/", ["*"], "s" * 16, "not a public address"),
        ("http://[::1]:6380/", ["*"], "s" * 16, "not a public address"),
        ("http://169.254.169.254/latest", ["*"], "s" * 16, "not a public address"),
        ("https:///nohost", ["*"], "s" * 16, r"not an http\(s\) URL"),
        ("https://x.example/h", [], "s" * 16, "at least one event type"),
        ("https://x.example/h", ["Decision Declined"], "s" * 16, "not a dotted name"),
        ("https://x.example/h", ["decision.*.x"], "s" * 16, "not a dotted name"),
        ("https://x.example/h", ["*"], "short", "at least 16 characters"),
    ],
)
def test_invalid_subscriptions_are_refused(
    url: str, types: list[str], secret: str, problem: str
) -> None:
    with pytest.raises(InvalidSubscription, match=problem):
        validate(url, types, secret, POLICY)


def test_a_valid_subscription_passes() -> None:
    validate(
        "https://hooks.example/x?y=1", ["decision.declined", "decision.*", "*"], "s" * 16, POLICY
    )


def test_plain_http_needs_the_setting_and_refusals_hide_the_userinfo() -> None:
    strict = WebhookTargetPolicy(allow_http=False, allowed_networks=())
    with pytest.raises(InvalidSubscription, match="https") as refused:
        validate("http://user:hunter2@hooks.example/x", ["*"], "s" * 16, strict)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("decision.declined", "decision.declined", True),
        ("decision.declined", "decision.approved", False),
        ("decision.*", "decision.review", True),
        ("decision.*", "decisions.review", False),
        ("decision.*", "decision", False),
        ("*", "label.fraud", True),
    ],
)
def test_event_type_patterns(pattern: str, event_type: str, expected: bool) -> None:
    assert matches(pattern, event_type) is expected
