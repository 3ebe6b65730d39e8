"""The comparison of replayed decisions with the ledger and labels (pure, no services)."""

from __future__ import annotations

import pytest

from replay.database import LiveDecision
from replay.plan import DEFAULT_WARMUP_MS, LONGEST_WINDOW_MS
from replay.report import MISSING, Replayed, ReportPart
from replay.summary import quantile, summarize, warmup_summary
from rule_engine import RuleAction, RuleSpec
from schemas.enums import Outcome, RuleMode

A, R, D = Outcome.APPROVE, Outcome.REVIEW, Outcome.DECLINE


def replayed(
    tid: str,
    outcome: Outcome,
    score: float = 0.1,
    rules: tuple[str, ...] = (),
    offset: int = 0,
    cold: bool = False,
) -> Replayed:
    return Replayed(
        transaction_id=tid,
        account_id="acct-1",
        partition=0,
        offset=offset,
        timestamp="2026-11-30T10:00:00+00:00",
        amount="10.00",
        currency="EUR",
        outcome=outcome,
        score=score,
        rules=rules,
        shadow_rules=(),
        reasons=("amount=10",),
        cold=cold,
    )


def spec(rule_id: str, name: str, version: int = 1, mode: RuleMode = RuleMode.ACTIVE) -> RuleSpec:
    return RuleSpec(rule_id=rule_id, version=version, name=name, expression="amount > 1",
                    action=RuleAction.parse("REVIEW"), mode=mode)  # fmt: skip


def live(outcome: Outcome, score: float = 0.1, rules: tuple[str, ...] = ()) -> LiveDecision:
    return LiveDecision(outcome, score, "m-1", rules, ())


def test_a_changed_outcome_is_listed_with_the_rules_that_explain_it() -> None:
    part = ReportPart()
    part.add(replayed("t1", A, rules=("keep",)), live(R, rules=("big", "keep")), None)
    part.add(replayed("t2", R, rules=("big",)), live(R, rules=("big",)), None)
    (change,) = part.changes
    assert (change.transaction_id, change.live_outcome, change.replay_outcome) == (
        "t1",
        "REVIEW",
        "APPROVE",
    )
    assert (change.rules_removed, change.rules_added) == (("big",), ())
    assert change.row()["live_rules"] == "big keep"
    assert change.label == ""


def test_label_outcomes_caught_missed_and_good_declined() -> None:
    part = ReportPart()
    part.add(replayed("caught", D), live(A), True)  # fraud newly caught
    part.add(replayed("missed", A), live(R), True)  # fraud newly missed
    part.add(replayed("still", R), live(R), True)  # fraud caught both times
    part.add(replayed("declined", D), live(A), False)  # confirmed good newly declined
    part.add(replayed("presumed", D), live(R), None)  # unlabelled: presumed good
    labels = summarize(part)["labels"]
    assert labels == {
        "labelled": 4,
        "fraud": 3,
        "confirmed_good": 1,
        "fraud_caught_live": 2,
        "fraud_caught_replay": 2,
        "fraud_newly_caught": 1,
        "fraud_newly_missed": 1,
        "good_newly_declined": 2,
        "confirmed_good_newly_declined": 1,
    }


def test_outcome_counts_and_transitions_include_transactions_missing_from_the_ledger() -> None:
    part = ReportPart(decided=4)
    part.add(replayed("t1", A), live(A), None)
    part.add(replayed("t2", R), live(A), None)
    part.add(replayed("t3", D), None, None)
    part.add(replayed("t4", A), live(D), None)
    report = summarize(part)
    assert report["outcomes"] == {
        "live": {"APPROVE": 2, "REVIEW": 0, "DECLINE": 1, MISSING: 1},
        "replay": {"APPROVE": 2, "REVIEW": 1, "DECLINE": 1},
    }
    assert report["transitions"] == [
        {"live": "APPROVE", "replay": "APPROVE", "count": 1},
        {"live": "APPROVE", "replay": "REVIEW", "count": 1},
        {"live": "DECLINE", "replay": "APPROVE", "count": 1},
        {"live": MISSING, "replay": "DECLINE", "count": 1},
    ]
    totals = report["totals"]
    assert (totals["in_ledger"], totals["missing_from_ledger"], totals["changed"]) == (3, 1, 2)


def test_rule_hits_and_precision_against_labels() -> None:
    part = ReportPart()
    part.add(replayed("t1", R, rules=("new",)), live(A), True)
    part.add(replayed("t2", R, rules=("new",)), live(R, rules=("old",)), None)
    part.add(replayed("t3", R, rules=("new",)), live(R, rules=("old",)), False)
    part.add(replayed("t4", R, rules=("new",)), live(R, rules=("old",)), True)
    rules = {r["rule_id"]: r for r in summarize(part, {"new": spec("new", "New rule")})["rules"]}
    assert rules["new"]["name"] == "New rule"
    assert (rules["new"]["replay_hits"], rules["new"]["replay_fraud_hits"]) == (4, 2)
    assert rules["new"]["replay_precision"] == 0.5
    assert (rules["old"]["live_hits"], rules["old"]["live_precision"]) == (3, pytest.approx(1 / 3))
    assert rules["old"]["replay_precision"] is None  # it never fired in the replay


def test_precision_is_unknown_without_any_fraud_label() -> None:
    part = ReportPart()
    part.add(replayed("t1", R, rules=("r",)), live(R, rules=("r",)), None)
    (rule,) = summarize(part)["rules"]
    assert rule["live_precision"] is None and rule["replay_precision"] is None


def test_score_distribution_live_and_replay() -> None:
    part = ReportPart()
    for i in range(100):
        part.add(replayed(f"t{i}", A, score=i / 100), live(A, score=0.5), None)
    scores = summarize(part)["scores"]
    assert scores["live"]["quantiles"]["p50"] == pytest.approx(0.5)
    assert scores["replay"]["quantiles"]["p10"] == pytest.approx(0.09)  # the 10th of 100
    assert scores["replay"]["mean"] == pytest.approx(0.495)
    assert [b["replay"] for b in scores["histogram"]] == [10] * 10
    assert [b["live"] for b in scores["histogram"]][5] == 100
    assert quantile([0] * 10, 0.5) is None


def test_parts_merge_into_the_same_report_as_one_part() -> None:
    inputs = [
        (replayed("t1", D, rules=("x",), offset=3), live(A), True),
        (replayed("t2", A, offset=1), live(R, rules=("x",)), False),
        (replayed("t3", R, score=0.7, offset=2), live(R, score=0.6), None),
    ]
    whole = ReportPart(read=3, decided=3)
    left, right = ReportPart(read=2, decided=2), ReportPart(read=1, decided=1)
    for i, (r, lv, label) in enumerate(inputs):
        whole.add(r, lv, label)
        (left if i < 2 else right).add(r, lv, label)
    assert summarize(left.merge(right)) == summarize(whole)


def test_examples_are_capped_per_outcome_pair_in_stream_order() -> None:
    part = ReportPart()
    for i in range(7):
        part.add(replayed(f"t{i}", A, offset=10 - i), live(R), None)
    part.add(replayed("d", D, offset=50), live(A), None)
    examples = summarize(part, examples=2)["examples"]
    assert [e["transaction_id"] for e in examples] == ["t6", "t5", "d"]


def test_rules_are_named_by_name_and_version_and_an_unknown_one_by_its_id() -> None:
    known = {
        "7edeb737-0c1d-4b7e-9a51-2f0f7c1d9e10": spec("7edeb737-0c1d-4b7e-9a51-2f0f7c1d9e10",
                                                     "Many transactions in an hour", 1),
        "cand": spec("cand", "Many transactions in an hour", 2),
        "night": spec("night", "Night spree (shadow)", 4, RuleMode.SHADOW),
    }  # fmt: skip
    part = ReportPart()
    part.add(replayed("t1", A, rules=("cand",)), live(R, rules=(next(iter(known)),)), None)
    part.add(replayed("t2", R, rules=("cand", "gone")), live(A), None)
    report = summarize(part, known)
    labels = {r["rule_id"]: (r["label"], r["name"], r["version"]) for r in report["rules"]}
    assert labels == {
        next(iter(known)): ("Many transactions in an hour v1", "Many transactions in an hour", 1),
        "cand": ("Many transactions in an hour v2", "Many transactions in an hour", 2),
        "gone": ("gone", "", None),  # known to no spec: its id is all there is
    }
    removed, added = report["examples"]
    assert removed["rules_removed_names"] == "Many transactions in an hour v1"
    assert added["rules_added_names"] == "Many transactions in an hour v2; gone"
    assert removed["rules_removed"] == next(iter(known))  # the ids stay, for joins


def test_cold_transactions_and_changes_are_counted_and_merged() -> None:
    left, right = ReportPart(decided=2), ReportPart(decided=1)
    left.add(replayed("t1", A, cold=True), live(R), None)  # changed, cold
    left.add(replayed("t2", R, cold=True), live(R), None)  # unchanged, cold
    right.add(replayed("t3", A), live(R), None)  # changed, warm
    part = left.merge(right)
    assert part.cold == 2
    assert [(c.transaction_id, c.cold) for c in part.changes] == [("t1", True), ("t3", False)]
    assert part.changes[0].row()["cold"] is True


def test_a_short_warm_up_warns_that_changes_may_come_from_cold_features() -> None:
    part = ReportPart(decided=3)
    part.add(replayed("t1", A, cold=True), live(R), None)
    part.add(replayed("t2", R, cold=True), live(R), None)
    part.add(replayed("t3", A), live(R), None)
    warmup = warmup_summary(part, 0)
    assert warmup == {
        "warmup_ms": 0,
        "longest_window_ms": LONGEST_WINDOW_MS,
        "short": True,
        "cold_replayed": 2,
        "cold_changes": 1,
        "warning": "--warmup 0 is shorter than the longest feature window (30d): 1 of 2 changed"
        " outcomes (2 of 3 replayed transactions) were decided with less than 30d of their"
        " account's history read, so those changes may come from cold features rather than"
        " from the candidate. Warm up with --warmup 30d5m (the default) or --warmup all.",
    }
    assert warmup_summary(part, 12 * 3_600_000)["warning"].startswith("--warmup 12h is shorter")


def test_a_short_warm_up_with_nothing_cold_says_so_and_a_full_one_says_nothing() -> None:
    part = ReportPart(decided=1)
    part.add(replayed("t1", A), live(R), None)
    note = warmup_summary(part, 0)["warning"]
    assert note.startswith("--warmup 0 is shorter than the longest feature window (30d), but no")
    for full in (LONGEST_WINDOW_MS, DEFAULT_WARMUP_MS, None):  # None: --warmup all
        warmup = warmup_summary(part, full)
        assert (warmup["short"], warmup["warning"]) == (False, None)
