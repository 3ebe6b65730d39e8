"""The Rules pages' pure parts: checking a draft, hit figures, version diffs, mode changes.

No I/O: the routes (``console/rules_pages.py``) read and write through
``console/rules_store.py`` and ``reference_store``; everything here is unit-tested alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from console import audit
from reference_store.rules_repo import RuleVersion
from rule_engine import InvalidRuleSpec, RuleAction, RuleCompileError, compile_rule
from schemas.enums import Outcome, RuleMode


@dataclass(frozen=True, slots=True)
class Problem:
    """One error of a draft, where it is: ``line``/``column`` from 1 (None: not in the
    expression), the offending line's text and the padding that puts a caret under it."""

    field: str
    message: str
    line: int | None = None
    column: int | None = None
    text: str = ""

    @property
    def caret_pad(self) -> str:
        return " " * ((self.column or 1) - 1)


def newlines(text: str) -> str:
    """A form's text with the browser's CRLF line breaks stored as the API stores them (LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def compile_problem(exc: RuleCompileError) -> Problem:
    """The rule engine's compile error as the editor shows it."""
    lines = exc.expression.split("\n")
    text = lines[exc.line - 1] if exc.line <= len(lines) else ""
    return Problem("expression", exc.message, exc.line, exc.column, text)


def check(expression: str, action: str) -> list[Problem]:
    """Every problem of a draft, by the rule engine's own validation (the API's too)."""
    problems: list[Problem] = []
    try:
        compile_rule(expression)
    except RuleCompileError as exc:
        problems.append(compile_problem(exc))
    try:
        RuleAction.parse(action)
    except InvalidRuleSpec as exc:
        problems.append(Problem("action", str(exc)))
    return problems


@dataclass(slots=True)
class HitFigures:
    """A rule's hits over the last hour and day; for shadow hits, how many decisions they
    would have made stricter (an outcome action stricter than the recorded outcome)."""

    last_hour: int = 0
    last_day: int = 0
    shadow_hour: int = 0
    shadow_day: int = 0
    would_change_day: int = 0


@dataclass(frozen=True, slots=True)
class HitGroup:
    """One row of the hit query: hits of a rule with one action on one recorded outcome."""

    rule_id: str
    shadow: bool
    action: str
    outcome: str
    last_hour: bool
    hits: int


def action_outcome(action: str) -> Outcome | None:
    """The outcome a hit's recorded action asks for (None for a score adjustment); a
    breaker-degraded ``DECLINE->REVIEW`` did REVIEW."""
    word = action.rsplit("->", 1)[-1]
    return Outcome(word) if word in Outcome.__members__ else None


def hit_figures(groups: Iterable[HitGroup]) -> dict[str, HitFigures]:
    figures: dict[str, HitFigures] = {}
    for g in groups:
        f = figures.setdefault(g.rule_id, HitFigures())
        if g.shadow:
            f.shadow_day += g.hits
            f.shadow_hour += g.hits if g.last_hour else 0
            asked = action_outcome(g.action)
            if asked is not None and asked > Outcome(g.outcome):
                f.would_change_day += g.hits
        else:
            f.last_day += g.hits
            f.last_hour += g.hits if g.last_hour else 0
    return figures


def version_text(v: RuleVersion) -> list[str]:
    """A version as the lines its diff compares: the settings, then the expression."""
    head = [
        f"name: {v.name}",
        f"action: {v.action}",
        f"priority: {v.priority}",
        f"mode: {v.mode}",
        f"description: {v.description}",
        "expression:",
    ]
    return head + v.expression.split("\n")


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # "add", "del", "hunk", "file" or "same"
    text: str


def unified(before: RuleVersion, after: RuleVersion) -> list[DiffLine]:
    """difflib's unified diff of two versions, each line with its kind for the page."""
    lines = difflib.unified_diff(
        version_text(before),
        version_text(after),
        f"version {before.version}",
        f"version {after.version}",
        lineterm="",
    )
    return [DiffLine(_kind(line), line) for line in lines]


def _kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: RuleVersion
    diff: list[DiffLine] = field(default_factory=list)  # from the version before it


def with_diffs(newest_first: Sequence[RuleVersion]) -> list[VersionRow]:
    """Each version with the diff from its predecessor (the first version has none)."""
    rows = []
    for i, v in enumerate(newest_first):
        before = newest_first[i + 1] if i + 1 < len(newest_first) else None
        rows.append(VersionRow(v, unified(before, v) if before else []))
    return rows


# Mode changes the list and versions pages offer, and the audit action each writes.
MODE_ACTIONS = {
    RuleMode.ACTIVE: audit.RULE_ACTIVATED,
    RuleMode.SHADOW: audit.RULE_SHADOWED,
    RuleMode.DISABLED: audit.RULE_DISABLED,
}


def mode_choices(current: str) -> list[RuleMode]:
    """The modes a rule in ``current`` may move to (every other one)."""
    return [m for m in (RuleMode.ACTIVE, RuleMode.SHADOW, RuleMode.DISABLED) if m != current]
