"""The API's side of trying analysts' rules: compile errors as 422s, work off the event loop.

The trying itself (a draft set, one trial, a dry run over ledger rows) is the rule engine's
(``rule_engine.dry_run``), shared with the analyst console. The CEL core holds the GIL while
it compiles or runs a rule, and a dry run evaluates up to 100,000 rows (~13 s for a trivial
rule when it ran on the event loop). So the routes run all of it in a worker thread
(``off_loop``): the rule engine bounds each evaluation (its cost budget), and the dry run
stops at its time budget, saying how far it got.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ingest_api.errors import RuleInvalid
from rule_engine import RuleAction, RuleCompileError, RuleSet, compile_rule
from rule_engine.dry_run import draft_set as engine_draft_set


def compiled_or_422(expression: str) -> None:
    try:
        compile_rule(expression)
    except RuleCompileError as exc:
        raise _invalid(exc) from exc


def action_or_422(action: str) -> RuleAction:
    try:
        return RuleAction.parse(action)
    except ValueError as exc:
        raise RuleInvalid(f"invalid action {action!r}: {exc}", {"field": "action"}) from exc


def draft_set(expression: str) -> RuleSet:
    """A one-rule set for trying ``expression`` (action irrelevant: we ask if it fires)."""
    try:
        return engine_draft_set(expression)
    except RuleCompileError as exc:
        raise _invalid(exc) from exc


def _invalid(exc: RuleCompileError) -> RuleInvalid:
    return RuleInvalid(exc.message, {**exc.to_dict(), "snippet": exc.snippet()})


_P = ParamSpec("_P")
_R = TypeVar("_R")


async def off_loop(function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """``function(*args, **kwargs)`` in a worker thread, so the event loop keeps serving."""
    return await asyncio.to_thread(function, *args, **kwargs)
