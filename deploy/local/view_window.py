"""The live view's arithmetic, without Kafka: rates, new vs redelivered, mix, latency, rule names.

New vs redelivered
    A transaction decided again (a worker restarted, a partition moved, a record sent twice)
    gets the same decision id (``schemas.records.decision_id_for``), and the ledger sink
    drops it. The view remembers the ids of the last ``Recent.size`` decisions it saw: a
    decision whose id is among them is a redelivery. Counted on the decisions topic itself,
    new/s and redeliveries/s share decisions/s's window and always add up to it; memory is
    bounded (200,000 ids: minutes of traffic at the demo's rates, more than any
    redelivery's delay). A redelivery of a decision first seen before the view started
    counts as new.
    The mix, the rules, the latest DECLINEs and the latency count new decisions only: a
    redelivery is not a second outcome, and its ``decided_at`` is the re-decision's.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from schemas.records import Decision, Rule

OUTCOMES = ("APPROVE", "REVIEW", "DECLINE")


class Recent:
    """The last ``size`` keys added: O(1) membership, memory bounded by ``size``."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be positive")
        self.size = size
        self._keys: set[int] = set()
        self._order: deque[int] = deque()

    def add(self, key: str) -> bool:
        """Remember ``key``; True if it was not among the last ``size`` keys."""
        # A 64-bit hash rather than the 36-character id: a third of the memory; a collision
        # among 200,000 ids has a chance of about one in 10^9.
        digest = hash(key)
        if digest in self._keys:
            return False
        self._keys.add(digest)
        self._order.append(digest)
        if len(self._order) > self.size:
            self._keys.discard(self._order.popleft())
        return True

    def __len__(self) -> int:
        return len(self._order)


@dataclass
class Window:
    """Decisions seen: the last ``seconds`` for rates and latency, totals for mix and rules."""

    seconds: float = 60.0
    memory: int = 200_000
    # (arrival, decision, is new) over the last ``seconds``
    seen: deque[tuple[float, Decision, bool]] = field(default_factory=deque)
    outcomes: Counter[str] = field(default_factory=Counter)
    # (rule id, version, action) -> hits
    rules: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    declines: deque[Decision] = field(default_factory=lambda: deque(maxlen=5))
    total: int = 0
    total_new: int = 0
    recent: Recent = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.recent = Recent(self.memory)

    def add(self, decision: Decision, now: float) -> bool:
        """Count one decision read at ``now``; True if it is new (not a redelivery)."""
        new = self.recent.add(decision.decision_id)
        self.seen.append((now, decision, new))
        self.total += 1
        if new:
            self.total_new += 1
            self.outcomes[decision.outcome.value] += 1
            for hit in decision.rules_fired:
                self.rules[(hit.rule_id, hit.version, hit.action)] += 1
            if decision.outcome.value == "DECLINE":
                self.declines.append(decision)
        while self.seen and now - self.seen[0][0] > self.seconds:
            self.seen.popleft()
        return new

    def rate(self, now: float, span: float = 5.0) -> float:
        """Decisions a second over the last ``span`` seconds, redeliveries included."""
        return sum(1 for at, _d, _new in self.seen if now - at <= span) / span

    def new_rate(self, now: float, span: float = 5.0) -> float:
        """New decisions a second over the last ``span`` seconds."""
        return sum(1 for at, _d, new in self.seen if new and now - at <= span) / span

    def latency_ms(self) -> tuple[float, float, float]:
        """p50, p95 and p99 of ingest -> decision of the new decisions in the window."""
        waits = sorted(
            (d.decided_at - d.ingested_at).total_seconds() * 1000
            for _at, d, new in self.seen
            if new
        )
        if not waits:
            return (0.0, 0.0, 0.0)
        p50, p95, p99 = (waits[min(len(waits) - 1, int(q * len(waits)))] for q in (0.5, 0.95, 0.99))
        return p50, p95, p99

    def summary(self, elapsed_s: float) -> str:
        """One plain line, the view's figures since it started (the last line it prints)."""
        span = max(elapsed_s, 1e-9)
        p50, p95, p99 = self.latency_ms()
        fields = [
            ("decisions/s", f"{self.total / span:.1f}"),
            ("new/s", f"{self.total_new / span:.1f}"),
            ("redeliveries/s", f"{(self.total - self.total_new) / span:.1f}"),
            ("decisions", str(self.total)),
            ("new", str(self.total_new)),
            *((outcome, str(self.outcomes[outcome])) for outcome in OUTCOMES),
            ("p50_ms", f"{p50:.1f}"),
            ("p95_ms", f"{p95:.1f}"),
            ("p99_ms", f"{p99:.1f}"),
            ("seconds", f"{elapsed_s:.1f}"),
        ]
        return " ".join(f"{name} {value}" for name, value in fields)


@dataclass
class RuleNames:
    """Rule id -> name, as the compacted rules topic says; the short id when unknown."""

    names: dict[str, str] = field(default_factory=dict)

    def apply(self, rule_id: str, rule: Rule | None) -> None:
        """A record of the rules topic; a tombstone (None) keeps the name: decisions made
        before the rule was deleted still name it."""
        if rule is not None:
            self.names[rule_id] = rule.name

    def label(self, rule_id: str) -> str:
        return self.names.get(rule_id) or rule_id[:8]
