"""The backtest pages' pure parts: ranges, the candidate spec, the summary and the bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from console.backtest_view import (
    GRACE,
    BadRange,
    candidate_spec,
    default_range,
    outcome_bars,
    parse_range,
    progress_share,
    shown_status,
    spec_of,
    summarize,
)
from rule_engine import InvalidRuleSpec
from schemas.enums import RuleMode

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_a_range_is_utc_unless_it_names_a_zone_and_ends_now_at_the_latest() -> None:
    span = parse_range("2026-12-04T09:00", "2026-12-05T18:00", NOW, 7)
    assert span.since == datetime(2026, 12, 4, 9, tzinfo=UTC)
    assert span.until == NOW
    zoned = parse_range("2026-12-04T09:00+05:30", "2026-12-04T10:00+05:30", NOW, 7)
    assert zoned.since == datetime(2026, 12, 4, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "why"),
    [
        ("2026-12-05T10:00", "2026-12-05T09:00", "from must be before to"),
        ("2026-12-05T10:00", "2026-12-05T10:00", "from must be before to"),
        ("2026-12-06T10:00", "2026-12-07T10:00", "starts in the future"),
        ("2026-11-20T00:00", "2026-11-28T00:01", "at most 7 days"),
        ("yesterday", "2026-12-05T10:00", "from: write a date and time"),
    ],
)
def test_a_range_is_refused_with_the_reason(since: str, until: str, why: str) -> None:
    with pytest.raises(BadRange, match=why):
        parse_range(since, until, NOW, 7)


def test_exactly_the_limit_is_allowed_and_the_form_offers_the_last_day() -> None:
    span = parse_range("2026-11-28T00:00", "2026-12-05T00:00", NOW, 7)
    assert span.until - span.since == timedelta(days=7)
    # To the end of the current minute: what was decided seconds ago is in the range.
    offered = default_range(NOW.replace(second=31))
    end = NOW + timedelta(minutes=1)
    assert (offered.since, offered.until) == (end - timedelta(days=1), end)


def test_the_candidate_is_a_rule_spec_the_rule_engine_accepts() -> None:
    data = candidate_spec(rule_id="r-1", version=3, name="big", expression="amount > 5.0",
                          action="SCORE+0.2", priority=5, mode="active")  # fmt: skip
    spec = spec_of(data)
    assert (spec.rule_id, spec.version, spec.mode) == ("r-1", 3, RuleMode.ACTIVE)
    assert spec.action.score_delta == pytest.approx(0.2)
    with pytest.raises(InvalidRuleSpec):
        candidate_spec(rule_id="r-1", version=1, name="x", expression="true",
                       action="MAYBE", priority=0, mode="active")  # fmt: skip


def test_an_open_backtest_long_past_its_deadline_shows_as_lost() -> None:
    deadline = NOW - GRACE - timedelta(seconds=1)
    assert shown_status("running", deadline, NOW) == "lost"
    assert shown_status("queued", deadline, NOW) == "lost"
    assert shown_status("running", NOW, NOW) == "running"
    assert shown_status("done", deadline, NOW) == "done"
    assert progress_share(50, 200) == 0.25
    assert progress_share(0, None) is None
    assert progress_share(300, 200) == 1.0


def report(**labels: int) -> dict[str, Any]:
    return {
        "totals": {"replayed": 10, "in_ledger": 10, "changed": 4},
        "outcomes": {
            "live": {"APPROVE": 6, "REVIEW": 2, "DECLINE": 2, "MISSING": 0},
            "replay": {"APPROVE": 5, "REVIEW": 0, "DECLINE": 5},
        },
        "labels": {
            "labelled": 4,
            "fraud": 3,
            "confirmed_good": 1,
            "fraud_caught_live": 2,
            "fraud_caught_replay": 2,
            **labels,
        },  # fmt: skip
        "transitions": [
            {"live": "APPROVE", "replay": "APPROVE", "count": 4},
            {"live": "APPROVE", "replay": "DECLINE", "count": 2},
            {"live": "REVIEW", "replay": "REVIEW", "count": 0},
        ],
        "rules": [
            {"rule_id": "cand", "mode": "active", "live_hits": 0, "replay_hits": 5},
            {"rule_id": "other", "mode": "active", "live_hits": 2, "replay_hits": 2},
        ],
    }


def test_the_summary_sets_candidate_against_live_with_precision_and_recall() -> None:
    s = summarize(report(), "cand")
    assert (s.live.approve, s.live.review, s.live.decline) == (6, 2, 2)
    assert (s.candidate.approve, s.candidate.review, s.candidate.decline) == (5, 0, 5)
    assert (s.live.precision, s.candidate.precision) == (0.5, 0.4)
    assert s.live.recall == s.candidate.recall == pytest.approx(2 / 3)
    assert [t["count"] for t in s.transitions] == [4, 2]  # empty pairs left out
    assert [h["rule_id"] for h in s.rule_hits] == ["cand"]


def test_without_fraud_or_catches_there_is_no_precision_or_recall() -> None:
    r = report(fraud=0, fraud_caught_live=0, fraud_caught_replay=0)
    r["outcomes"]["replay"] = {"APPROVE": 10, "REVIEW": 0, "DECLINE": 0}
    s = summarize(r, "cand")
    assert s.candidate.precision is None and s.candidate.recall is None
    assert s.live.recall is None


def test_the_bars_stand_on_the_axis_scaled_to_the_tallest() -> None:
    bars = outcome_bars(summarize(report(), "cand"))
    assert [(b.label, b.side, b.count) for b in bars][:2] == [
        ("APPROVE", "live", 6),
        ("APPROVE", "candidate", 5),
    ]
    tallest = max(bars, key=lambda b: b.count)
    assert tallest.y == 16 and tallest.height == 160
    assert all(b.y + b.height == pytest.approx(176) for b in bars)
    empty = next(b for b in bars if b.count == 0)
    assert empty.height == 0
