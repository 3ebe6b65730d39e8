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
    """The outcome and score; ``reasons`` are built when read (the agents record rule hits
    and the model's reason codes, not these, and building them per transaction cost up to
    half of ``decide``)."""

    outcome: Outcome
    score: float  # model score with the rules' adjustments, clamped to [0, 1]
    model_score: float | None
    verdict: RuleVerdict
    thresholds: Thresholds
    # The strictest threshold the score reached (name, value, outcome); never without a
    # model score, the thresholds are not applied then.
    crossed: tuple[str, float, Outcome] | None = None

    @property
    def score_flagged(self) -> bool:
        """Whether the score reached a threshold, so the model is among the reasons for the
        outcome."""
        return self.crossed is not None

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why: each fired rule, and the threshold the score crossed."""
        reasons = [_rule_reason(firing) for firing in self.verdict.fired]
        if self.crossed is not None and self.model_score is not None:
            name, limit, outcome = self.crossed
            detail = f"score {self.score:.4g} (model {self.model_score:.4g}) >= {name} {limit:g}"
            reasons.append(Reason(ReasonKind.THRESHOLD, name, outcome, detail))
        # Stable: the reasons that reached the final outcome first, each group in rule order.
        reasons.sort(key=lambda r: r.outcome != self.outcome)
        return tuple(reasons)


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
    outcome = verdict.outcome
    crossed = None if model_score is None else _crossed(score, thresholds)
    if crossed is not None:
        outcome = Outcome.strictest(outcome, crossed[2])
    return PolicyDecision(outcome, score, model_score, verdict, thresholds, crossed)


def _rule_reason(firing: Firing) -> Reason:
    ref = f"{firing.rule_id}@v{firing.version}"
    if firing.outcome is None:
        delta = firing.action.score_delta
        return Reason(ReasonKind.SCORE_ADJUSTMENT, ref, None, f"score {delta:+g}")
    detail = "DECLINE degraded to REVIEW by the circuit breaker" if firing.degraded else ""
    return Reason(ReasonKind.RULE, ref, firing.outcome, detail)


def _crossed(score: float, thresholds: Thresholds) -> tuple[str, float, Outcome] | None:
    """The strictest threshold ``score`` reaches: its name, its value and its outcome."""
    if score >= thresholds.decline_at:
        return "decline_at", thresholds.decline_at, Outcome.DECLINE
    if score >= thresholds.review_at:
        return "review_at", thresholds.review_at, Outcome.REVIEW
    return None
