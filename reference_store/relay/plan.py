"""Which committed rule versions a relay pass publishes: pure, no I/O.

A pass sees every version above its rule's watermark (the newest version already
published). It publishes only each rule's newest version: the topic is compacted by rule
id, so an older version published after it would become what the agents (and compaction)
keep. The versions it skips were superseded before they were ever published.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from reference_store.rules_repo import RuleVersion


@dataclass(frozen=True, slots=True)
class Plan:
    """What one pass publishes (each rule's newest pending version, oldest save first) and
    what it leaves behind as superseded."""

    publish: tuple[RuleVersion, ...]
    superseded: tuple[RuleVersion, ...]

    @property
    def pending(self) -> int:
        """Versions committed and not yet covered by a publication (the lag in versions)."""
        return len(self.publish) + len(self.superseded)

    def oldest(self) -> datetime | None:
        """When the oldest pending version was committed (for the lag in seconds)."""
        found = [v.created_at for v in (*self.publish, *self.superseded)]
        return min(found) if found else None


def plan(pending: Iterable[RuleVersion]) -> Plan:
    """The pass over ``pending`` (versions above their rule's watermark, in any order)."""
    newest: dict[str, RuleVersion] = {}
    superseded: list[RuleVersion] = []
    for version in pending:
        held = newest.get(version.rule_id)
        if held is None or version.version > held.version:
            newest[version.rule_id] = version
            if held is not None:
                superseded.append(held)
        else:
            superseded.append(version)
    return Plan(_in_save_order(newest.values()), _in_save_order(superseded))


def _in_save_order(versions: Iterable[RuleVersion]) -> tuple[RuleVersion, ...]:
    # Keys differ across rules, so any order is correct; save order reads best in the logs.
    return tuple(sorted(versions, key=lambda v: (v.created_at, v.rule_id, v.version)))


def lag_seconds(plan: Plan, now: datetime) -> float:
    """How long the oldest pending version has waited (0 when nothing waits)."""
    oldest = plan.oldest()
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


def republish(current: Sequence[RuleVersion]) -> Plan:
    """A repair pass (`sentinel rules sync`): every rule's current version, published again."""
    return Plan(_in_save_order(current), ())
