"""The decline circuit breaker: no single rule may decline more than a share of traffic.

Over a sliding window (the last N transactions, or the last T seconds) the breaker counts
the transactions and, per rule, those on which the rule fired with DECLINE. A rule is
*tripped* while the window holds at least ``min_volume`` transactions and its declines
exceed ``max_share`` of them; a tripped rule's DECLINE is degraded to REVIEW (the
verdict records it as degraded). Degraded declines still count as the rule's declines,
so the breaker stays open for as long as the rule keeps matching too much, and closes
by itself once the share falls back under the cap, with no flapping in between.

Pure and deterministic: the caller passes the clock (``now``, seconds; monotonic time in
the agent). State is per process, so with several workers each caps its own partitions.
A window in seconds keeps one small entry per transaction it spans.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Final

from rule_engine.evaluate import RuleVerdict
from schemas.enums import Outcome


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Exactly one of ``window_events`` and ``window_seconds``."""

    max_share: float = 0.05
    min_volume: int = 100
    window_events: int | None = 10_000
    window_seconds: float | None = None

    def __post_init__(self) -> None:
        if (self.window_events is None) == (self.window_seconds is None):
            raise ValueError("give exactly one of window_events and window_seconds")
        if not 0.0 < self.max_share <= 1.0:
            raise ValueError("max_share lies in (0, 1]")
        if self.min_volume < 1 or (self.window_events or self.window_seconds or 0) <= 0:
            raise ValueError("min_volume and the window must be positive")


# A cap that can never trip (every rule may decline everything): replaying or scoring
# history offline compresses the wall-clock windows a live breaker counts in.
NO_BREAKER: Final = BreakerConfig(max_share=1.0)


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One rule's standing in the current window (for a metric)."""

    rule_id: str
    declines: int  # transactions in the window it fired DECLINE on, degraded or not
    volume: int  # transactions in the window
    tripped: bool
    trips: int  # times it went from closed to tripped since the breaker started

    @property
    def share(self) -> float:
        return self.declines / self.volume if self.volume else 0.0


class DeclineBreaker:
    """Caps each rule's share of DECLINEs; feed it every transaction's verdict in order."""

    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.config = config or BreakerConfig()
        self._window: deque[tuple[float, tuple[str, ...]]] = deque()
        self._declines: Counter[str] = Counter()
        self._open: set[str] = set()
        self._trips: Counter[str] = Counter()

    def apply(self, verdict: RuleVerdict, now: float) -> RuleVerdict:
        """Record one transaction's verdict; return it with tripped rules degraded."""
        decliners = tuple(f.rule_id for f in verdict.fired if f.action.outcome is Outcome.DECLINE)
        self._window.append((now, decliners))
        self._declines.update(decliners)
        self._evict(now)
        self._open = {rule_id for rule_id in self._open if self._over(rule_id)}
        tripped = {rule_id for rule_id in decliners if self._over(rule_id)}
        self._trips.update(tripped - self._open)
        self._open |= tripped
        return verdict.degrade(tripped) if tripped else verdict

    def state(self, rule_id: str) -> BreakerState:
        return BreakerState(
            rule_id,
            self._declines[rule_id],
            len(self._window),
            self._over(rule_id),
            self._trips[rule_id],
        )

    def states(self) -> dict[str, BreakerState]:
        """Every rule with declines in the window or a trip on record."""
        return {rule_id: self.state(rule_id) for rule_id in self._declines.keys() | self._trips}

    @property
    def volume(self) -> int:
        return len(self._window)

    def _over(self, rule_id: str) -> bool:
        volume = len(self._window)
        declines = self._declines[rule_id]
        return volume >= self.config.min_volume and declines > self.config.max_share * volume

    def _evict(self, now: float) -> None:
        window, config = self._window, self.config
        if config.window_events is not None:
            while len(window) > config.window_events:
                self._forget(window.popleft()[1])
        elif config.window_seconds is not None:
            horizon = now - config.window_seconds
            while window and window[0][0] <= horizon:
                self._forget(window.popleft()[1])

    def _forget(self, rule_ids: tuple[str, ...]) -> None:
        for rule_id in rule_ids:
            self._declines[rule_id] -= 1
            if not self._declines[rule_id]:
                del self._declines[rule_id]
