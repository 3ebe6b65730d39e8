"""The decision policy: model score, thresholds and rule verdict into one outcome and reasons.

The score the thresholds see is the model's plus the fired rules' score adjustments,
clamped to [0, 1]. It gives REVIEW from ``review_at`` and DECLINE from ``decline_at``
(inclusive). The final outcome is the strictest of that and the rules' outcome
(APPROVE < REVIEW < DECLINE). The reasons list what reached the final outcome first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rule_engine.evaluate import Firing, RuleVerdict
from schemas.enums import Outcome


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score thresholds; ``decline_at`` above 1 disables score declines."""

    review_at: float = 0.5
    decline_at: float = 0.9

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_at <= self.decline_at:
            raise ValueError("thresholds need 0 <= review_at <= decline_at")


class ReasonKind(StrEnum):
    RULE = "rule"  # a rule's outcome
    SCORE_ADJUSTMENT = "score_adjustment"  # a rule's score adjustment
    THRESHOLD = "threshold"  # the adjusted score crossed a threshold


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: its kind, what (rule id or threshold name), its outcome and a detail."""

    kind: ReasonKind
    ref: str
    outcome: Outcome | None
    detail: str


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    outcome: Outcome
    score: float  # model score with the rules' adjustments, clamped to [0, 1]
    model_score: float | None
    reasons: tuple[Reason, ...]


def decide(
    model_score: float | None, verdict: RuleVerdict, thresholds: Thresholds
) -> PolicyDecision:
    """Combine; raises ValueError for a model score outside [0, 1] (NaN included).

    Without a model score (no model loaded) only the rules decide: the thresholds are not
    applied, and the score is the rules' adjustment from 0.
    """
    if model_score is not None and not 0.0 <= model_score <= 1.0:
        raise ValueError(f"a model score lies in [0, 1], not {model_score}")
    score = min(1.0, max(0.0, (model_score or 0.0) + verdict.score_delta))
    reasons = [_rule_reason(firing) for firing in verdict.fired]
    outcome = verdict.outcome
    by_score = None if model_score is None else _threshold_reason(score, model_score, thresholds)
    if by_score is not None:
        reasons.append(by_score)
        outcome = Outcome.strictest(outcome, by_score.outcome or Outcome.APPROVE)
    # Stable: the reasons that reached the final outcome first, each group in rule order.
    reasons.sort(key=lambda r: r.outcome != outcome)
    return PolicyDecision(outcome, score, model_score, tuple(reasons))


def _rule_reason(firing: Firing) -> Reason:
    ref = f"{firing.rule_id}@v{firing.version}"
    if firing.outcome is None:
        delta = firing.action.score_delta
        return Reason(ReasonKind.SCORE_ADJUSTMENT, ref, None, f"score {delta:+g}")
    detail = "DECLINE degraded to REVIEW by the circuit breaker" if firing.degraded else ""
    return Reason(ReasonKind.RULE, ref, firing.outcome, detail)


def _threshold_reason(score: float, model_score: float, thresholds: Thresholds) -> Reason | None:
    for name, limit, outcome in (
        ("decline_at", thresholds.decline_at, Outcome.DECLINE),
        ("review_at", thresholds.review_at, Outcome.REVIEW),
    ):
        if score >= limit:
            detail = f"score {score:.4g} (model {model_score:.4g}) >= {name} {limit:g}"
            return Reason(ReasonKind.THRESHOLD, name, outcome, detail)
    return None
