"""The decision policy the pipeline calls per transaction: rules, breaker, score thresholds."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from decision_core.observer import SILENT, Observer
from decision_core.records import Judgement
from decision_core.reference import ReferenceData
from rule_engine import Binder, DeclineBreaker, RuleContext, RuleFailureLog, Thresholds, decide
from schemas.records import Transaction


class RulesJudge:
    """Evaluates the live rule set on each transaction (the values its rules read, bound
    into one CEL context kept across transactions: ``rule_engine.Binder``), caps runaway
    decline rules, and combines the verdict with the model score: the strictest outcome wins.
    Rule failures and breaker trips go to ``observer``.
    """

    def __init__(
        self,
        reference: ReferenceData,
        thresholds: Thresholds,
        breaker: DeclineBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        observer: Observer = SILENT,
    ) -> None:
        self.reference = reference
        self.thresholds = thresholds
        self.breaker = breaker or DeclineBreaker()
        self.failures = RuleFailureLog()
        self.clock = clock
        self.observer = observer
        # One CEL context for every transaction, only changed values converted (``Binder``).
        self.binder = Binder()

    def __call__(
        self,
        tx: Transaction,
        features: Mapping[str, float],
        score: float | None,
        home_country: str | None,
        thresholds: Thresholds | None = None,
    ) -> Judgement:
        """``thresholds`` are the champion's (None: the ones this judge was built with)."""
        reference = self.reference
        rules = reference.rules
        context = RuleContext.build(
            tx, features, home_country=home_country, lists=reference.lists, names=rules.names
        )
        now = self.clock()
        verdict = self.breaker.apply(rules.evaluate(context, self.binder), now=now)
        if verdict.failures:
            self.failures.record(verdict.failures, now=now)
            for failure in verdict.failures:
                self.observer.rule_failed(failure.rule_id)
        for rule_id in verdict.degraded:
            self.observer.breaker_degraded(rule_id)
        decision = decide(score, verdict, thresholds or self.thresholds)
        return Judgement(
            decision.outcome,
            decision.score,
            verdict.hits(),
            verdict.shadow_hits(),
            score_flagged=decision.score_flagged,
        )
