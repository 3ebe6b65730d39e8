"""An immutable, compiled set of rules: built once, evaluated per transaction, swapped whole.

The agent keeps one ``RuleSet`` in a variable and replaces it on every change from the
compacted ``rules`` topic: ``with_rule`` compiles only the changed rule and reuses every
other compiled program, ``without`` compiles nothing. A reader holding the old set keeps
a consistent view; assigning the new one is the atomic swap.

A rule that does not compile (validated on save, so only a version skew between the
admin API and the agent can cause it) is not evaluated and is listed in ``rejected``.
Disabled rules are kept as specs but neither compiled nor evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from rule_engine.compile import ListCheck, compile_rule
from rule_engine.context import Binder, RuleContext
from rule_engine.errors import RuleCompileError
from rule_engine.evaluate import (
    FailureKind,
    LiveRule,
    RuleFailure,
    RuleVerdict,
    run_rules,
)
from rule_engine.model import RuleSpec
from schemas.enums import RuleMode


class RuleSet:
    """Rules by id; evaluation order is priority (highest first), then rule id."""

    __slots__ = ("_specs", "_live", "_rejected", "_order", "_names", "_list_checks")

    def __init__(
        self,
        specs: Mapping[str, RuleSpec],
        live: Mapping[str, LiveRule],
        rejected: Mapping[str, RuleCompileError],
    ) -> None:
        """Internal: use ``build``, ``with_rule`` and ``without``."""
        self._specs = MappingProxyType(dict(specs))
        self._live = MappingProxyType(dict(live))
        self._rejected = MappingProxyType(dict(rejected))
        self._order = tuple(sorted(live.values(), key=lambda r: (-r.spec.priority, r.spec.rule_id)))
        names = set().union(*(r.compiled.names for r in self._order))
        names.discard("lists")
        self._names = tuple(sorted(names))
        checks: set[ListCheck] = set().union(*(r.compiled.list_checks for r in self._order))
        self._list_checks = tuple(sorted(checks))

    @classmethod
    def build(cls, specs: Iterable[RuleSpec]) -> RuleSet:
        """Compile every spec (the last of each rule_id wins)."""
        return cls.empty()._changed({spec.rule_id: spec for spec in specs})

    @classmethod
    def empty(cls) -> RuleSet:
        return cls({}, {}, {})

    def with_rule(self, spec: RuleSpec) -> RuleSet:
        """This set with ``spec`` added or replacing its rule's current version."""
        return self._changed({spec.rule_id: spec})

    def without(self, rule_id: str) -> RuleSet:
        """This set without the rule (a tombstone on the rules topic)."""
        if rule_id not in self._specs:
            return self
        return RuleSet(
            {k: v for k, v in self._specs.items() if k != rule_id},
            {k: v for k, v in self._live.items() if k != rule_id},
            {k: v for k, v in self._rejected.items() if k != rule_id},
        )

    def evaluate(self, context: RuleContext, binder: Binder | None = None) -> RuleVerdict:
        """The verdict of every active and shadow rule on one transaction; never raises.

        ``binder``: bind through it (a caller evaluating transaction after transaction), not
        into a new CEL context; the verdict is the same.
        """
        try:
            if binder is None:
                bound = context.bind(self._names, self._list_checks)
            else:
                bound = binder.bind(context, self._names, self._list_checks)
        except Exception as exc:  # a value CEL cannot take: every rule fails, nothing fires
            message = f"context: {type(exc).__name__}: {exc}"
            return RuleVerdict.of((), (), tuple(self._all_failed(message)))
        return run_rules(self._order, bound, context.values)

    def get(self, rule_id: str) -> RuleSpec | None:
        return self._specs.get(rule_id)

    @property
    def specs(self) -> Mapping[str, RuleSpec]:
        """Every rule held, disabled and rejected ones included."""
        return self._specs

    @property
    def names(self) -> tuple[str, ...]:
        """The environment names its rules read (``lists`` aside): what a context for it
        needs to hold (``RuleContext.build(..., names=rules.names)``)."""
        return self._names

    @property
    def evaluated(self) -> tuple[RuleSpec, ...]:
        """The active and shadow rules, in evaluation order."""
        return tuple(rule.spec for rule in self._order)

    @property
    def rejected(self) -> Mapping[str, RuleCompileError]:
        return self._rejected

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._specs

    def _changed(self, changes: Mapping[str, RuleSpec]) -> RuleSet:
        specs = {**self._specs, **changes}
        live = {k: v for k, v in self._live.items() if k not in changes}
        rejected = {k: v for k, v in self._rejected.items() if k not in changes}
        for rule_id, spec in changes.items():
            if spec.mode is RuleMode.DISABLED:
                continue
            previous = self._live.get(rule_id)
            try:
                compiled = (
                    previous.compiled
                    if previous is not None and previous.compiled.expression == spec.expression
                    else compile_rule(spec.expression)
                )
            except RuleCompileError as exc:
                rejected[rule_id] = exc
                continue
            live[rule_id] = LiveRule.of(spec, compiled, shadow=spec.mode is RuleMode.SHADOW)
        return RuleSet(specs, live, rejected)

    def _all_failed(self, message: str) -> Iterable[RuleFailure]:
        for rule in self._order:
            yield RuleFailure(rule.spec.rule_id, rule.spec.version, FailureKind.INTERNAL, message)
