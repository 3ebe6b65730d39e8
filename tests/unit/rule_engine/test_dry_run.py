"""A draft's dry run: hits, and the recorded outcomes it would make stricter."""

from __future__ import annotations

from rule_engine import EMPTY_LISTS
from rule_engine.dry_run import draft_set, evaluate_draft, trial, would_be
from schemas.enums import Outcome


def row(i: int, amount: float, outcome: str | None) -> dict[str, object]:
    return {"transaction_id": f"t{i}", "amount": amount, "features": {}, "outcome": outcome}


def test_a_decline_draft_changes_what_it_hits_below_decline() -> None:
    rows = [
        row(1, 9000.0, "APPROVE"),
        row(2, 9000.0, "REVIEW"),
        row(3, 9000.0, "DECLINE"),
        row(4, 10.0, "APPROVE"),
        row(5, 9000.0, None),  # no recorded outcome: a hit, no change counted
    ]
    report = evaluate_draft(draft_set("amount > 5000.0", "DECLINE"), rows, EMPTY_LISTS, 60.0)
    assert (report.evaluated, report.hits, report.changed, report.score_moves) == (5, 4, 2, 0)
    assert report.changes == {
        (Outcome.APPROVE, Outcome.DECLINE): 1,
        (Outcome.REVIEW, Outcome.DECLINE): 1,
    }


def test_a_score_draft_changes_no_outcome_by_itself_and_says_it_moved_scores() -> None:
    rows = [row(1, 9000.0, "APPROVE"), row(2, 9000.0, "REVIEW")]
    report = evaluate_draft(draft_set("amount > 5000.0", "SCORE+0.3"), rows, EMPTY_LISTS, 60.0)
    assert (report.hits, report.changed, report.score_moves) == (2, 0, 2)


def test_would_be_is_the_strictest_and_a_miss_changes_nothing() -> None:
    rules = draft_set("amount > 5000.0", "REVIEW")
    hit = trial(rules, {"amount": 6000.0}, {}, None, EMPTY_LISTS)
    miss = trial(rules, {"amount": 1.0}, {}, None, EMPTY_LISTS)
    assert would_be(Outcome.APPROVE, hit) is Outcome.REVIEW
    assert would_be(Outcome.DECLINE, hit) is Outcome.DECLINE
    assert would_be(Outcome.APPROVE, miss) is Outcome.APPROVE
