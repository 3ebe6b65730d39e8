"""Compiling, trying and dry-running analysts' rules before they go live (rule_engine)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
