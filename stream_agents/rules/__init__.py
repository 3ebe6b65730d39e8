"""The rule engine's pure core: analyst rules in CEL, compiled, evaluated, capped, combined.

No I/O. The agent's calls, per change and per transaction::

    rules = RuleSet.build(RuleSpec.from_record(r) for r in rules_topic)  # at start
    rules = rules.with_rule(RuleSpec.from_record(record))  # on a change
    rules = rules.without(rule_id)  # on a tombstone
    context = RuleContext.build(tx, features, home_country=home, lists=lists)
    verdict = breaker.apply(rules.evaluate(context), now=time.monotonic())
    failure_log.record(verdict.failures, now=time.monotonic())
    decision = decide(model_score, verdict, thresholds)
"""

from stream_agents.rules.breaker import BreakerConfig, BreakerState, DeclineBreaker
from stream_agents.rules.compile import CompiledRule, ListCheck, compile_rule
from stream_agents.rules.context import RuleContext
from stream_agents.rules.environment import ENVIRONMENT, TRANSACTION_FIELDS, CelType
from stream_agents.rules.errors import InvalidRuleSpec, RuleCompileError, RuleEngineError
from stream_agents.rules.evaluate import FailureKind, Firing, RuleFailure, RuleVerdict
from stream_agents.rules.failure_log import RuleFailureLog
from stream_agents.rules.lists import EMPTY_LISTS, ListKind, ListSet, NamedList
from stream_agents.rules.model import RuleAction, RuleSpec
from stream_agents.rules.policy import PolicyDecision, Reason, ReasonKind, Thresholds, decide
from stream_agents.rules.ruleset import RuleSet
from stream_agents.rules.seed import load_seed_lists, load_seed_rules

__all__ = [
    "EMPTY_LISTS",
    "ENVIRONMENT",
    "TRANSACTION_FIELDS",
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
