"""The rule engine's pure core: analyst rules in CEL, compiled, evaluated, capped, combined.

No I/O. The agent's calls, per change and per transaction::

    rules = RuleSet.build(RuleSpec.from_record(r) for r in rules_topic)  # at start
    rules = rules.with_rule(RuleSpec.from_record(record))  # on a change
    rules = rules.without(rule_id)  # on a tombstone
    binder = Binder()  # at start: one CEL context kept across transactions
    context = RuleContext.build(tx, features, home_country=home, lists=lists, names=rules.names)
    verdict = breaker.apply(rules.evaluate(context, binder), now=time.monotonic())
    failure_log.record(verdict.failures, now=time.monotonic())
    decision = decide(model_score, verdict, thresholds)
"""

from rule_engine.breaker import NO_BREAKER, BreakerConfig, BreakerState, DeclineBreaker
from rule_engine.compile import CompiledRule, ListCheck, compile_rule
from rule_engine.context import Binder, RuleContext
from rule_engine.environment import ENVIRONMENT, TRANSACTION_FIELDS, CelType
from rule_engine.errors import InvalidRuleSpec, RuleCompileError, RuleEngineError
from rule_engine.evaluate import FailureKind, Firing, RuleFailure, RuleVerdict
from rule_engine.failure_log import RuleFailureLog
from rule_engine.lists import EMPTY_LISTS, ListKind, ListSet, NamedList
from rule_engine.model import RuleAction, RuleSpec
from rule_engine.policy import PolicyDecision, Reason, ReasonKind, Thresholds, decide
from rule_engine.ruleset import RuleSet
from rule_engine.seed import load_seed_lists, load_seed_rules

__all__ = [
    "EMPTY_LISTS",
    "ENVIRONMENT",
    "TRANSACTION_FIELDS",
    "Binder",
    "NO_BREAKER",
    "BreakerConfig",
    "BreakerState",
    "CelType",
    "CompiledRule",
    "DeclineBreaker",
    "FailureKind",
    "Firing",
    "InvalidRuleSpec",
    "ListCheck",
    "ListKind",
    "ListSet",
    "NamedList",
    "PolicyDecision",
    "Reason",
    "ReasonKind",
    "RuleAction",
    "RuleCompileError",
    "RuleContext",
    "RuleEngineError",
    "RuleFailure",
    "RuleFailureLog",
    "RuleSet",
    "RuleSpec",
    "RuleVerdict",
    "Thresholds",
    "compile_rule",
    "decide",
    "load_seed_lists",
    "load_seed_rules",
]
