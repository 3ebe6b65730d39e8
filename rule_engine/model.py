"""What a rule is: a frozen ``RuleSpec`` with its parsed ``RuleAction``, from any source.

A spec is one version of one rule, as the ``rules`` topic carries it (``schemas.Rule``) or
as the seed file writes it. It holds the expression as text; ``RuleSet`` compiles it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Self

from rule_engine.errors import InvalidRuleSpec
from schemas.enums import Outcome, RuleMode
from schemas.records import Rule

_SCORE: Final = re.compile(r"SCORE\s*([+-])\s*(\d+(?:\.\d*)?|\.\d+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RuleAction:
    """An outcome (APPROVE, REVIEW, DECLINE) or a score adjustment, never both.

    Under strictest-wins an APPROVE rule changes no outcome: it is recorded, nothing more.
    """

    outcome: Outcome | None = None
    score_delta: float = 0.0

    def __post_init__(self) -> None:
        if (self.outcome is None) == (self.score_delta == 0.0):
            raise InvalidRuleSpec("an action is an outcome or a non-zero score adjustment")
        if not (math.isfinite(self.score_delta) and -1.0 <= self.score_delta <= 1.0):
            raise InvalidRuleSpec(f"a score adjustment lies in [-1, 1], not {self.score_delta}")

    @classmethod
    def parse(cls, text: str) -> Self:
        """``APPROVE``, ``REVIEW``, ``DECLINE``, ``SCORE+0.2`` or ``SCORE-0.1`` (any case)."""
        word = text.strip().upper()
        if word in Outcome.__members__:
            return cls(outcome=Outcome(word))
        score = _SCORE.fullmatch(word)
        if score is None:
            raise InvalidRuleSpec(
                f"unknown action {text!r}: use APPROVE, REVIEW, DECLINE, SCORE+x or SCORE-x"
            )
        return cls(score_delta=float(score[1] + score[2]))

    def __str__(self) -> str:
        return self.outcome.value if self.outcome else f"SCORE{self.score_delta:+g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSpec:
    """One version of one rule. Higher ``priority`` is evaluated and listed first."""

    rule_id: str
    version: int
    name: str
    expression: str
    action: RuleAction
    priority: int = 0
    mode: RuleMode = RuleMode.ACTIVE
    description: str = ""

    def __post_init__(self) -> None:
        if not self.rule_id:
            raise InvalidRuleSpec("a rule needs a rule_id")
        if self.version < 1:
            raise InvalidRuleSpec(f"rule {self.rule_id}: versions start at 1")

    @classmethod
    def from_record(cls, rule: Rule) -> Self:
        """From the ``rules`` topic; ``action`` ``SCORE`` takes its delta from ``score_delta``."""
        action = rule.action
        if action.strip().upper() == "SCORE" and rule.score_delta is not None:
            parsed = RuleAction(score_delta=rule.score_delta)
        else:
            parsed = RuleAction.parse(action)
        return cls(
            rule_id=rule.rule_id,
            version=rule.version,
            name=rule.name,
            expression=rule.expression,
            action=parsed,
            priority=rule.priority,
            mode=rule.mode,
            description=rule.description,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """From a plain mapping (the seed file, an API body): ``action`` as text."""
        try:
            return cls(
                rule_id=str(data["rule_id"]),
                version=int(data.get("version", 1)),
                name=str(data["name"]),
                expression=str(data["expression"]),
                action=RuleAction.parse(str(data["action"])),
                priority=int(data.get("priority", 0)),
                mode=RuleMode(data.get("mode", RuleMode.ACTIVE)),
                description=str(data.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidRuleSpec):
                raise
            raise InvalidRuleSpec(f"bad rule {data.get('rule_id')!r}: {exc!r}") from exc
