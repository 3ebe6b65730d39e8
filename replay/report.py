"""The comparison of replayed decisions with the ledger and the labels: pure and mergeable.

Each worker fills a ``ReportPart`` for its partitions; the parts are merged and turned into
the report (``summary.summarize``). Definitions used throughout:

- *caught*: an outcome other than APPROVE (the transaction is held for review or refused);
- *fraud*: labelled fraud on the ``labels`` topic (the latest verdict); *good*: anything not
  labelled fraud (labels mostly confirm fraud, so an unlabelled transaction is presumed
  genuine), *confirmed good*: labelled genuine;
- a rule's *precision*: the share of the transactions it fired on that are labelled fraud
  (None when the replayed range holds no fraud label at all);
- scores are the decision's risk score (the model's, adjusted by score rules), binned in
  thousandths, so quantiles are floored to 0.001.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from decision_core.records import SourceRecord
from replay.database import LiveDecision
from schemas.enums import Outcome
from schemas.records import Decision

MISSING = "MISSING"  # no decision in the ledger for this transaction
BINS = 1000
QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)
OUTCOMES = tuple(o.value for o in Outcome)


@dataclass(frozen=True, slots=True)
class Replayed:
    """What the replay made of one transaction, reduced to what the report needs."""

    transaction_id: str
    account_id: str
    partition: int
    offset: int
    timestamp: str
    amount: str
    currency: str
    outcome: Outcome
    score: float
    rules: tuple[str, ...]
    shadow_rules: tuple[str, ...]
    reasons: tuple[str, ...]  # the model's top reason codes, "feature=value"
    # Decided with less than the longest feature window of history read before it (a short
    # ``--warmup``): its features may be colder than the agent's were.
    cold: bool = False

    @classmethod
    def of(cls, record: SourceRecord, decision: Decision, cold: bool = False) -> Replayed:
        tx = decision.transaction
        return cls(
            transaction_id=decision.transaction_id,
            account_id=decision.account_id,
            partition=record.partition,
            offset=record.offset,
            timestamp=tx.timestamp.isoformat(),
            amount=str(tx.amount),
            currency=tx.currency,
            outcome=decision.outcome,
            score=decision.risk_score,
            rules=tuple(sorted(h.rule_id for h in decision.rules_fired)),
            shadow_rules=tuple(sorted(h.rule_id for h in decision.shadow_rules_fired)),
            reasons=tuple(f"{r.feature}={r.value:g}" for r in decision.reason_codes),
            cold=cold,
        )


@dataclass(frozen=True, slots=True)
class Change:
    """A transaction whose outcome differs between the ledger and the replay."""

    transaction_id: str
    account_id: str
    partition: int
    offset: int
    timestamp: str
    amount: str
    currency: str
    live_outcome: str
    replay_outcome: str
    live_score: float
    replay_score: float
    live_rules: tuple[str, ...]
    replay_rules: tuple[str, ...]
    rules_added: tuple[str, ...]  # fired in the replay only
    rules_removed: tuple[str, ...]  # fired live only
    replay_reasons: tuple[str, ...]
    label: str  # fraud, good (labelled genuine) or "" (unlabelled)
    cold: bool = False  # decided with less than the longest window of history read

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("live_rules", "replay_rules", "rules_added", "rules_removed", "replay_reasons"):
            out[key] = " ".join(out[key])
        return out


@dataclass
class RuleStats:
    live_hits: int = 0
    live_fraud_hits: int = 0
    replay_hits: int = 0
    replay_fraud_hits: int = 0

    def merge(self, other: RuleStats) -> None:
        self.live_hits += other.live_hits
        self.live_fraud_hits += other.live_fraud_hits
        self.replay_hits += other.replay_hits
        self.replay_fraud_hits += other.replay_fraud_hits


def _bins() -> list[int]:
    return [0] * BINS


@dataclass
class ReportPart:
    """Counts over some partitions; ``merge`` adds another part's counts to this one."""

    read: int = 0
    warmed: int = 0
    decided: int = 0
    invalid: int = 0  # records the live agent would have dead-lettered
    duplicates: int = 0  # a transaction id seen before in the range (decided once)
    cold: int = 0  # replayed with less than the longest window of history read
    # Records the agents did not decide where they were read (decision_core.placement),
    # by reason: forwarded home (skipped: the copy is decided) or dead-lettered.
    placement: Counter[str] = field(default_factory=Counter)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    rules: dict[tuple[str, str], RuleStats] = field(default_factory=dict)
    live_models: Counter[str] = field(default_factory=Counter)
    live_scores: list[int] = field(default_factory=_bins)
    replay_scores: list[int] = field(default_factory=_bins)
    score_sums: list[float] = field(default_factory=lambda: [0.0, 0.0])
    changes: list[Change] = field(default_factory=list)

    def add(self, replayed: Replayed, live: LiveDecision | None, fraud: bool | None) -> None:
        """Account for one replayed transaction, its ledger decision and its label."""
        now = replayed.outcome
        before = live.outcome if live is not None else None
        self.transitions[(before.value if before else MISSING, now.value)] += 1
        self.cold += replayed.cold
        self.replay_scores[_bin(replayed.score)] += 1
        self.score_sums[1] += replayed.score
        hit = fraud is True
        self._rules("active", replayed.rules, live.rules if live else (), hit)
        self._rules("shadow", replayed.shadow_rules, live.shadow_rules if live else (), hit)
        if fraud is not None:
            self.labels["labelled"] += 1
            self.labels["fraud" if fraud else "confirmed_good"] += 1
        if hit and now is not Outcome.APPROVE:
            self.labels["fraud_caught_replay"] += 1
        if live is None:
            return
        self.live_models[live.model_version or "none"] += 1
        self.live_scores[_bin(live.risk_score)] += 1
        self.score_sums[0] += live.risk_score
        if hit and before is not Outcome.APPROVE:
            self.labels["fraud_caught_live"] += 1
        if before is not now:
            self._change(replayed, live, fraud)

    def _rules(self, mode: str, replay: Iterable[str], live: Iterable[str], fraud: bool) -> None:
        for rule_id in replay:
            stats = self.rules.setdefault((rule_id, mode), RuleStats())
            stats.replay_hits += 1
            stats.replay_fraud_hits += fraud
        for rule_id in live:
            stats = self.rules.setdefault((rule_id, mode), RuleStats())
            stats.live_hits += 1
            stats.live_fraud_hits += fraud

    def _change(self, replayed: Replayed, live: LiveDecision, fraud: bool | None) -> None:
        before, now = live.outcome, replayed.outcome
        if fraud is True and before is Outcome.APPROVE:
            self.labels["fraud_newly_caught"] += 1
        elif fraud is True and now is Outcome.APPROVE:
            self.labels["fraud_newly_missed"] += 1
        if fraud is not True and now is Outcome.DECLINE:
            self.labels["good_newly_declined"] += 1
            if fraud is False:
                self.labels["confirmed_good_newly_declined"] += 1
        self.changes.append(
            Change(
                transaction_id=replayed.transaction_id,
                account_id=replayed.account_id,
                partition=replayed.partition,
                offset=replayed.offset,
                timestamp=replayed.timestamp,
                amount=replayed.amount,
                currency=replayed.currency,
                live_outcome=before.value,
                replay_outcome=now.value,
                live_score=live.risk_score,
                replay_score=replayed.score,
                live_rules=live.rules,
                replay_rules=replayed.rules,
                rules_added=tuple(r for r in replayed.rules if r not in live.rules),
                rules_removed=tuple(r for r in live.rules if r not in replayed.rules),
                replay_reasons=replayed.reasons,
                label="" if fraud is None else "fraud" if fraud else "good",
                cold=replayed.cold,
            )
        )

    def merge(self, other: ReportPart) -> ReportPart:
        for name in ("read", "warmed", "decided", "invalid", "duplicates", "cold"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.transitions.update(other.transitions)
        self.placement.update(other.placement)
        self.labels.update(other.labels)
        self.live_models.update(other.live_models)
        for key, stats in other.rules.items():
            self.rules.setdefault(key, RuleStats()).merge(stats)
        self.live_scores = [a + b for a, b in zip(self.live_scores, other.live_scores, strict=True)]
        self.replay_scores = [
            a + b for a, b in zip(self.replay_scores, other.replay_scores, strict=True)
        ]
        self.score_sums = [a + b for a, b in zip(self.score_sums, other.score_sums, strict=True)]
        self.changes.extend(other.changes)
        return self


def _bin(score: float) -> int:
    return min(BINS - 1, max(0, int(score * BINS)))
