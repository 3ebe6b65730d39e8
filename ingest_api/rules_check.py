"""Compiling, trying and dry-running analysts' rules before they go live (rule_engine).

The CEL core holds the GIL while it compiles or runs a rule, and a dry run evaluates up to
100,000 rows (~13 s for a trivial rule when it ran on the event loop). So the routes run
all of it in a worker thread (``off_loop``): the rule engine bounds each evaluation (its
cost budget), and the dry run stops at its time budget, saying how far it got.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from ingest_api.errors import RuleInvalid
from rule_engine import (
    ListSet,
    NamedList,
    RuleAction,
    RuleCompileError,
    RuleContext,
    RuleSet,
    RuleSpec,
    compile_rule,
)


def compiled_or_422(expression: str) -> None:
    try:
        compile_rule(expression)
    except RuleCompileError as exc:
        raise RuleInvalid(exc.message, {**exc.to_dict(), "snippet": exc.snippet()}) from exc


def action_or_422(action: str) -> RuleAction:
    try:
        return RuleAction.parse(action)
    except ValueError as exc:
        raise RuleInvalid(f"invalid action {action!r}: {exc}", {"field": "action"}) from exc


def draft_set(expression: str) -> RuleSet:
    """A one-rule set for trying ``expression`` (action irrelevant: we ask if it fires)."""
    compiled_or_422(expression)
    spec = RuleSpec(
        rule_id="draft",
        version=1,
        name="draft",
        expression=expression,
        action=RuleAction.parse("REVIEW"),
    )
    return RuleSet.build([spec])


@dataclass(frozen=True, slots=True)
class Trial:
    fired: bool
    error: str | None


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
    return Trial(bool(verdict.fired), error)


def list_set(lists: Mapping[str, tuple[str, Sequence[str]]]) -> ListSet:
    """From {name: (kind, values)}."""
    return ListSet(NamedList.of(name, kind, values) for name, (kind, values) in lists.items())


_P = ParamSpec("_P")
_R = TypeVar("_R")


async def off_loop(function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """``function(*args, **kwargs)`` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(function, *args, **kwargs)


@dataclass(slots=True)
class DryRunReport:
    """How often a draft fired on ledger rows; ``complete`` is false past the time budget."""

    rows: int
    evaluated: int = 0
    hits: int = 0
    hits_labelled_fraud: int = 0
    runtime_errors: int = 0
    examples: list[str] = field(default_factory=list)
    complete: bool = True

    def public(self) -> dict[str, Any]:
        return {
            "evaluated": self.evaluated,
            "rows": self.rows,
            "complete": self.complete,
            "hits": self.hits,
            "hits_labelled_fraud": self.hits_labelled_fraud,
            "hit_rate": self.hits / self.evaluated if self.evaluated else 0.0,
            "runtime_errors": self.runtime_errors,
            "examples": self.examples,
        }


def evaluate_draft(
    rules: RuleSet,
    rows: Sequence[dict[str, Any]],
    lists: ListSet,
    budget_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> DryRunReport:
    """Evaluate ``rules`` on ``rows`` (newest first) until done or ``budget_s`` is spent."""
    report = DryRunReport(rows=len(rows))
    deadline = clock() + budget_s
    for row in _until(rows, deadline, clock):
        result = trial(rules, row, row.get("features") or {}, row.get("home_country"), lists)
        report.evaluated += 1
        report.runtime_errors += result.error is not None
        if result.fired:
            report.hits += 1
            report.hits_labelled_fraud += bool(row.get("is_fraud"))
            if len(report.examples) < 10:
                report.examples.append(str(row["transaction_id"]))
    report.complete = report.evaluated == len(rows)
    return report


def _until(
    rows: Iterable[dict[str, Any]], deadline: float, clock: Callable[[], float]
) -> Iterable[dict[str, Any]]:
    for row in rows:
        if clock() >= deadline:
            return
        yield row
