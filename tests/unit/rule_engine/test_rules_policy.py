"""The decision policy: thresholds on the adjusted score, strictest wins, the reasons why."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rule_engine import Firing, ReasonKind, RuleAction, RuleVerdict, Thresholds, decide
from schemas.enums import Outcome

THRESHOLDS = Thresholds(review_at=0.5, decline_at=0.8)


def firing(rule_id: str, action: str, degraded: bool = False) -> Firing:
    return Firing(rule_id, 2, RuleAction.parse(action), 0, degraded)


@pytest.mark.parametrize(
    ("score", "outcome", "reason"),
    [
        (0.0, Outcome.APPROVE, None),
        (0.4999, Outcome.APPROVE, None),
        (0.5, Outcome.REVIEW, "review_at"),
        (0.79, Outcome.REVIEW, "review_at"),
        (0.8, Outcome.DECLINE, "decline_at"),
        (1.0, Outcome.DECLINE, "decline_at"),
    ],
)
def test_thresholds_are_inclusive(score: float, outcome: Outcome, reason: str | None) -> None:
    decision = decide(score, RuleVerdict(), THRESHOLDS)
    assert decision.outcome is outcome
    assert [r.ref for r in decision.reasons] == ([reason] if reason else [])


def test_score_adjustments_move_the_score_and_are_clamped() -> None:
    up = RuleVerdict.of((firing("a", "SCORE+0.2"), firing("b", "SCORE+0.2")))
    decision = decide(0.45, up, THRESHOLDS)
    assert decision.score == pytest.approx(0.85) and decision.model_score == 0.45
    assert decision.outcome is Outcome.DECLINE
    assert decision.reasons[0].kind is ReasonKind.THRESHOLD
    assert {r.ref for r in decision.reasons[1:]} == {"a@v2", "b@v2"}
    assert decide(0.95, up, THRESHOLDS).score == 1.0
    down = RuleVerdict.of((firing("c", "SCORE-0.5"),))
    assert decide(0.1, down, THRESHOLDS).score == 0.0


def test_a_rule_outcome_beats_a_low_score_and_reasons_lead_with_it() -> None:
    verdict = RuleVerdict.of((firing("velocity", "REVIEW"), firing("deny", "DECLINE")))
    decision = decide(0.6, verdict, THRESHOLDS)
    assert decision.outcome is Outcome.DECLINE
    assert [(r.ref, r.outcome) for r in decision.reasons] == [
        ("deny@v2", Outcome.DECLINE),
        ("velocity@v2", Outcome.REVIEW),
        ("review_at", Outcome.REVIEW),
    ]


def test_a_degraded_decline_says_so() -> None:
    verdict = RuleVerdict.of((firing("hot", "DECLINE", degraded=True),))
    decision = decide(0.1, verdict, THRESHOLDS)
    assert decision.outcome is Outcome.REVIEW
    assert "circuit breaker" in decision.reasons[0].detail


@given(
    st.floats(0.0, 1.0),
    st.lists(st.sampled_from(["APPROVE", "REVIEW", "DECLINE", "SCORE+0.3", "SCORE-0.3"])),
)
def test_the_final_outcome_is_never_laxer_than_rules_or_score(
    score: float, actions: list[str]
) -> None:
    verdict = RuleVerdict.of(tuple(firing(f"r{i}", a) for i, a in enumerate(actions)))
    decision = decide(score, verdict, THRESHOLDS)
    assert decision.outcome >= verdict.outcome
    assert 0.0 <= decision.score <= 1.0
    by_score = decide(decision.score, RuleVerdict(), THRESHOLDS).outcome
    assert decision.outcome == Outcome.strictest(verdict.outcome, by_score)


@pytest.mark.parametrize("score", [-0.01, 1.01, float("nan")])
def test_model_scores_outside_the_unit_interval_are_refused(score: float) -> None:
    with pytest.raises(ValueError, match="model score"):
        decide(score, RuleVerdict(), THRESHOLDS)


def test_without_a_model_score_only_the_rules_decide() -> None:
    verdict = RuleVerdict.of((firing("up", "SCORE+0.9"), firing("v", "REVIEW")))
    decision = decide(None, verdict, THRESHOLDS)
    assert (decision.outcome, decision.score, decision.model_score) == (Outcome.REVIEW, 0.9, None)
    assert all(r.kind is not ReasonKind.THRESHOLD for r in decision.reasons)


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        Thresholds(review_at=0.9, decline_at=0.5)
    with pytest.raises(ValueError):
        Thresholds(review_at=-0.1)
