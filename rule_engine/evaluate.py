"""Running compiled rules on one bound context, and the verdict that comes out.

A rule fires when its expression yields ``true``. Anything else is a miss: ``false``, or a
runtime failure (a null operand, a missing list, a failed function...), which is
recorded as a ``RuleFailure`` and never raised. Shadow rules are run and recorded the
same way but never count towards the outcome or the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import cel

from rule_engine.compile import CompiledRule
from rule_engine.model import RuleAction, RuleSpec
from schemas.enums import Outcome
from schemas.records import RuleHit

# Interrupts still interrupt; anything else, a Rust panic included (pyo3 raises those as
# BaseException), is the rule's failure, not the agent's.
_FATAL: Final = (KeyboardInterrupt, SystemExit, GeneratorExit)


class FailureKind(StrEnum):
    """Why a rule could not be decided; a label of the per-rule failure counter."""

    NULL = "null"  # a value it reads is null: absent field, NaN feature, unknown home
    TYPE = "type"
    MISSING_KEY = "missing_key"  # e.g. a list that does not exist
    ARITHMETIC = "arithmetic"
    FUNCTION = "function"  # a function failed: a bad regex, int('x')
    NOT_BOOLEAN = "not_boolean"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fired, at the version that was live; ``degraded`` by the breaker."""

    rule_id: str
    version: int
    action: RuleAction
    priority: int
    degraded: bool = False

    @property
    def outcome(self) -> Outcome | None:
        return Outcome.REVIEW if self.degraded else self.action.outcome

    def hit(self) -> RuleHit:
        """For the decision record; a degraded DECLINE reads ``DECLINE->REVIEW``."""
        action = f"{self.action}->{Outcome.REVIEW}" if self.degraded else str(self.action)
        return RuleHit(rule_id=self.rule_id, version=self.version, action=action)


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule that failed at runtime on one transaction (it counts as not fired)."""

    rule_id: str
    version: int
    kind: FailureKind
    message: str


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """What the rules say about one transaction.

    ``fired``: active rules that fired, highest priority first. ``outcome``: the strictest
    of their outcomes (APPROVE when none); ``score_delta``: the sum of their score
    adjustments. ``shadow``: shadow rules that would have fired, for the record only.
    """

    fired: tuple[Firing, ...] = ()
    shadow: tuple[Firing, ...] = ()
    failures: tuple[RuleFailure, ...] = ()
    outcome: Outcome = Outcome.APPROVE
    score_delta: float = 0.0

    @classmethod
    def of(
        cls,
        fired: tuple[Firing, ...],
        shadow: tuple[Firing, ...] = (),
        failures: tuple[RuleFailure, ...] = (),
    ) -> RuleVerdict:
        outcome = Outcome.strictest(*(f.outcome for f in fired if f.outcome is not None))
        delta = sum(f.action.score_delta for f in fired)
        return cls(fired, shadow, failures, outcome, delta)

    @property
    def degraded(self) -> tuple[str, ...]:
        """Rules whose DECLINE the circuit breaker turned into REVIEW."""
        return tuple(f.rule_id for f in self.fired if f.degraded)

    def degrade(self, rule_ids: Set[str]) -> RuleVerdict:
        """This verdict with the DECLINEs of ``rule_ids`` degraded to REVIEW."""
        fired = tuple(
            Firing(f.rule_id, f.version, f.action, f.priority, degraded=True)
            if f.rule_id in rule_ids and f.action.outcome is Outcome.DECLINE
            else f
            for f in self.fired
        )
        return RuleVerdict.of(fired, self.shadow, self.failures)

    def hits(self) -> tuple[RuleHit, ...]:
        return tuple(f.hit() for f in self.fired)

    def shadow_hits(self) -> tuple[RuleHit, ...]:
        return tuple(f.hit() for f in self.shadow)


@dataclass(frozen=True, slots=True, eq=False)
class LiveRule:
    """A compiled active or shadow rule, with what evaluation needs at hand."""

    spec: RuleSpec
    compiled: CompiledRule
    program: cel.Program
    firing: Firing  # the same object every time it fires
    shadow: bool
    reads: tuple[str, ...]  # scalar names it reads, to tell a null failure

    @classmethod
    def of(cls, spec: RuleSpec, compiled: CompiledRule, shadow: bool) -> LiveRule:
        firing = Firing(spec.rule_id, spec.version, spec.action, spec.priority)
        reads = tuple(sorted(compiled.names - {"lists"}))
        return cls(spec, compiled, compiled.program, firing, shadow, reads)


def run_rules(
    rules: Sequence[LiveRule], bound: cel.Context, values: Mapping[str, object]
) -> RuleVerdict:
    """Every rule on one bound context, in order; never raises for a rule's failure."""
    fired: list[Firing] = []
    shadow: list[Firing] = []
    failures: list[RuleFailure] = []
    for rule in rules:
        try:
            result = rule.program.execute(bound)
        except BaseException as exc:
            if isinstance(exc, _FATAL):
                raise
            failures.append(failure_of(rule, exc, values))
            continue
        if result is True:
            (shadow if rule.shadow else fired).append(rule.firing)
        elif result is not False:
            message = f"yielded {type(result).__name__}, not a boolean"
            failures.append(_failure(rule, FailureKind.NOT_BOOLEAN, message))
    return RuleVerdict.of(tuple(fired), tuple(shadow), tuple(failures))


def failure_of(rule: LiveRule, exc: BaseException, values: Mapping[str, object]) -> RuleFailure:
    """Classify a runtime exception; a type or function error on a null input is NULL."""
    message = f"{type(exc).__name__}: {str(exc).split('. ', 1)[0]}"
    if isinstance(exc, TypeError | RuntimeError) and any(values.get(n) is None for n in rule.reads):
        return _failure(rule, FailureKind.NULL, message)
    for types, kind in _KINDS:
        if isinstance(exc, types):
            return _failure(rule, kind, message)
    return _failure(rule, FailureKind.INTERNAL, message)


_KINDS: Final = (
    (TypeError, FailureKind.TYPE),
    (LookupError, FailureKind.MISSING_KEY),
    (ArithmeticError, FailureKind.ARITHMETIC),
    (RuntimeError | ValueError, FailureKind.FUNCTION),
)


def _failure(rule: LiveRule, kind: FailureKind, message: str) -> RuleFailure:
    return RuleFailure(rule.spec.rule_id, rule.spec.version, kind, message)
