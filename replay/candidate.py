"""The candidate a replay runs: rules, lists, profiles, model and thresholds, as plain values.

A ``Candidate`` is plain, picklable data (rule specs, not compiled programs; lists as
``NamedList`` tuples, not a ``ListSet``; merchant risk as (hour, values), not
``MerchantValues``) so each worker process builds its own ``DecisionPipeline`` from it
with the live agents' classes: ``RulesJudge`` over a ``RuleSet``, the registry's ``Model``
and the same ``Thresholds`` and breaker. The agents' runtime types keep derived read-only
views (``MappingProxyType``) that pickle cannot copy, and need not: ``build_pipeline``
rebuilds them in the worker.

Rules: the base is the rule set the agents run now (the compacted ``rules`` topic) unless
``--rules-base none``; a rule from the file or the database replaces the base rule with
the same id, else the one with the same name, else joins the set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from decision_core.features import HomeProfile
from decision_core.features.merchant import MerchantValues
from decision_core.judge import RulesJudge
from decision_core.pipeline import DecisionPipeline
from decision_core.reference import ReferenceData
from decision_core.scoring import CURRENT, Model, ModelRegistry
from replay.errors import ReplayError
from rule_engine import (
    NO_BREAKER,
    BreakerConfig,
    DeclineBreaker,
    InvalidRuleSpec,
    NamedList,
    RuleSet,
    RuleSpec,
    Thresholds,
)
from rule_engine.lists import ListSet

# What an agent holds per merchant (``MerchantValues``), as plain values: (hour, values).
HeldRisk = tuple[int, tuple[float, ...]]


@dataclass(frozen=True)
class Candidate:
    """Everything a worker needs to decide like an agent would under the candidate."""

    rules: tuple[RuleSpec, ...]
    lists: tuple[NamedList, ...] = ()
    profiles: dict[str, HomeProfile] = field(default_factory=dict)
    # Merchant risk as the merchant-risk topic holds it now (the agents' extra features).
    merchants: dict[str, HeldRisk] = field(default_factory=dict)
    model_dir: Path | None = None
    thresholds: Thresholds = Thresholds()
    breaker: BreakerConfig | None = BreakerConfig()
    # Ids of the rules the candidate added or changed against the base, for the report.
    changed: tuple[str, ...] = ()

    def known_rules(self, live: Iterable[RuleSpec] = ()) -> dict[str, RuleSpec]:
        """Every rule a report may name, by id: the candidate's, and the ``live`` ones it
        replaced or dropped (their hits are in the ledger)."""
        known = {spec.rule_id: spec for spec in live}
        known.update((spec.rule_id, spec) for spec in self.rules)
        return known


def plain_merchants(held: Mapping[str, MerchantValues]) -> dict[str, HeldRisk]:
    """Merchant risk as a Candidate carries it (``MerchantValues`` does not pickle)."""
    return {merchant: (values.hour, values.values) for merchant, values in held.items()}


class PinnedModel(ModelRegistry):
    """A registry that always answers one loaded model (a replay never follows CURRENT):
    the champion, no challenger, the replay's own thresholds."""

    def __init__(self, model: Model | None) -> None:
        super().__init__(None)
        self._pinned = model

    def current(self) -> Model | None:
        return self._pinned


def build_pipeline(candidate: Candidate) -> DecisionPipeline:
    """The agents' pipeline and judge, over the candidate's rules, lists, profiles and model."""
    reference = ReferenceData(RuleSet.build(candidate.rules), ListSet(candidate.lists))
    reference.profiles = candidate.profiles
    reference.merchants = {
        merchant: MerchantValues(hour, values)
        for merchant, (hour, values) in candidate.merchants.items()
    }
    config = candidate.breaker or NO_BREAKER
    judge = RulesJudge(reference, candidate.thresholds, DeclineBreaker(config))
    model = Model.load(candidate.model_dir) if candidate.model_dir is not None else None
    return DecisionPipeline(
        PinnedModel(model), judge, reference.profile, merchants=reference.merchant_risk
    )


def load_rule_file(path: Path) -> list[RuleSpec]:
    """Rules from the JSON ``sentinel rules load`` reads: ``{"rules": [...]}`` (or a list)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ReplayError(f"cannot read the rules file {path}: {exc}") from exc
    items = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ReplayError(f'{path}: expected {{"rules": [...]}}')
    try:
        return [RuleSpec.from_dict(item) for item in items]
    except InvalidRuleSpec as exc:
        raise ReplayError(f"{path}: {exc}") from exc


def overlay(
    base: Iterable[RuleSpec], changes: Sequence[RuleSpec]
) -> tuple[list[RuleSpec], list[str]]:
    """``base`` with each change replacing the rule of the same id, else of the same name.

    Returns the rule set and the ids of the rules the changes touched.
    """
    rules = {spec.rule_id: spec for spec in base}
    by_name = {spec.name: rule_id for rule_id, spec in rules.items()}
    touched: list[str] = []
    for spec in changes:
        replaced = spec.rule_id if spec.rule_id in rules else by_name.get(spec.name)
        if replaced is not None:
            del rules[replaced]
        rules[spec.rule_id] = spec
        by_name[spec.name] = spec.rule_id
        touched.append(spec.rule_id)
    return list(rules.values()), touched


def check_rules(specs: Sequence[RuleSpec]) -> None:
    """Raise a ReplayError naming every candidate rule that does not compile."""
    rejected = RuleSet.build(specs).rejected
    if rejected:
        problems = "; ".join(f"{rule_id}: {error}" for rule_id, error in sorted(rejected.items()))
        raise ReplayError(f"candidate rules do not compile: {problems}")


def model_directory(registry: Path | None, version: str | None) -> Path | None:
    """The artifact to score with: ``version`` of ``registry``, else its CURRENT one."""
    if registry is None:
        if version is not None:
            raise ReplayError("--model needs --registry (or SENTINEL_AGENTS_MODEL_REGISTRY)")
        return None
    if version is None:
        try:
            version = (registry / CURRENT).read_text().strip()
        except FileNotFoundError as exc:
            raise ReplayError(f"{registry} has no {CURRENT} model: name one with --model") from exc
    directory = registry / version
    if not (directory / "model.ubj").is_file():
        raise ReplayError(f"no model {version!r} in {registry}")
    return directory
