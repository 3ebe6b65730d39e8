"""Trying a draft rule before it is saved: one sample, or a dry run over decided rows.

Pure and synchronous, so both the API's admin routes and the analyst console run it (in a
worker thread: the CEL core holds the GIL while it runs). It evaluates with the agents'
own code: ``RuleContext.build`` and ``RuleSet.evaluate``, as ``decision_core.judge`` does,
and combines a draft's outcome with a row's recorded one as ``policy.decide`` does
(strictest wins).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rule_engine.compile import compile_rule
from rule_engine.context import RuleContext
from rule_engine.lists import ListSet, NamedList
from rule_engine.model import RuleAction, RuleSpec
from rule_engine.ruleset import RuleSet
from schemas.enums import Outcome, RuleMode

DRAFT_ID = "draft"
MAX_EXAMPLES = 10


def draft_set(expression: str, action: str = "REVIEW") -> RuleSet:
    """A one-rule, active set for trying ``expression`` (RuleCompileError if it does not
    compile; InvalidRuleSpec if ``action`` is malformed)."""
    compile_rule(expression)
    spec = RuleSpec(
        rule_id=DRAFT_ID,
        version=1,
        name=DRAFT_ID,
        expression=expression,
        action=RuleAction.parse(action),
        mode=RuleMode.ACTIVE,
    )
    return RuleSet.build([spec])


@dataclass(frozen=True, slots=True)
class Trial:
    fired: bool
    error: str | None
    outcome: Outcome = Outcome.APPROVE  # the draft's outcome (APPROVE when it did not fire)
    score_delta: float = 0.0


def trial(
    rules: RuleSet,
    transaction: Mapping[str, Any],
    features: Mapping[str, float],
    home_country: str | None,
    lists: ListSet,
) -> Trial:
    context = RuleContext.build(transaction, features, home_country=home_country, lists=lists)
    verdict = rules.evaluate(context)
    error = verdict.failures[0].message if verdict.failures else None
    return Trial(bool(verdict.fired), error, verdict.outcome, verdict.score_delta)


def list_set(lists: Mapping[str, tuple[str, Sequence[str]]]) -> ListSet:
    """From {name: (kind, values)}."""
    return ListSet(NamedList.of(name, kind, values) for name, (kind, values) in lists.items())


@dataclass(slots=True)
class DryRunReport:
    """How often a draft fired on ledger rows; ``complete`` is false past the time budget.

    ``changes`` counts rows whose recorded outcome the draft would have made stricter, as
    ``(recorded, would_be)``; ``score_moves`` counts hits that only adjust the score (their
    effect on the outcome depends on the model score and thresholds, not in the row).
    """

    rows: int
    evaluated: int = 0
    hits: int = 0
    hits_labelled_fraud: int = 0
    runtime_errors: int = 0
    examples: list[str] = field(default_factory=list)
    complete: bool = True
    changes: Counter[tuple[Outcome, Outcome]] = field(default_factory=Counter)
    score_moves: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.evaluated if self.evaluated else 0.0

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    def public(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "rows": self.rows,
            "complete": self.complete,
            "hits": self.hits,
            "hits_labelled_fraud": self.hits_labelled_fraud,
            "hit_rate": self.hit_rate,
            "runtime_errors": self.runtime_errors,
            "examples": self.examples,
        }


def would_be(recorded: Outcome, result: Trial) -> Outcome:
    """The outcome a row would have had with the draft live: the strictest of the two."""
    return Outcome.strictest(recorded, result.outcome) if result.fired else recorded


def evaluate_draft(
    rules: RuleSet,
    rows: Sequence[dict[str, Any]],
    lists: ListSet,
    budget_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> DryRunReport:
    """Evaluate ``rules`` on ``rows`` (newest first) until done or ``budget_s`` is spent.
    A row with an ``outcome`` (the recorded decision) counts towards ``changes``."""
    report = DryRunReport(rows=len(rows))
    deadline = clock() + budget_s
    for row in _until(rows, deadline, clock):
        result = trial(rules, row, row.get("features") or {}, row.get("home_country"), lists)
        report.evaluated += 1
        report.runtime_errors += result.error is not None
        if result.fired:
            _count_hit(report, row, result)
    report.complete = report.evaluated == len(rows)
    return report


def _count_hit(report: DryRunReport, row: Mapping[str, Any], result: Trial) -> None:
    report.hits += 1
    report.hits_labelled_fraud += bool(row.get("is_fraud"))
    report.score_moves += result.score_delta != 0.0
    if len(report.examples) < MAX_EXAMPLES:
        report.examples.append(str(row["transaction_id"]))
    if row.get("outcome") is not None:
        recorded = Outcome(row["outcome"])
        after = would_be(recorded, result)
        if after != recorded:
            report.changes[(recorded, after)] += 1


def _until(
    rows: Iterable[dict[str, Any]], deadline: float, clock: Callable[[], float]
) -> Iterable[dict[str, Any]]:
    for row in rows:
        if clock() >= deadline:
            return
        yield row
