"""A subscriber's circuit breaker: closed, open after K consecutive failures, half-open after
a cool-down to let one probe through. Pure: the caller passes the time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class Breaker:
    """Not thread-safe; the dispatcher uses it from its one event loop."""

    failure_threshold: int
    cooldown_s: float
    state: State = State.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self, now: float) -> bool:
        """May a delivery go out now? Half-open lets exactly one probe through at a time."""
        if self.state is State.OPEN and now - self.opened_at >= self.cooldown_s:
            self.state = State.HALF_OPEN
            self.probing = False
        if self.state is State.CLOSED:
            return True
        if self.state is State.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def parked_until(self, now: float, probe_s: float) -> float | None:
        """Until when deliveries should wait without trying (None: try now). Open: until the
        cool-down ends; half-open with its probe out: until the probe has had `probe_s`."""
        if self.state is State.OPEN and now - self.opened_at < self.cooldown_s:
            return self.opened_at + self.cooldown_s
        if self.state is State.HALF_OPEN and self.probing:
            return now + probe_s
        return None

    def succeeded(self) -> None:
        self.state, self.failures, self.probing = State.CLOSED, 0, False

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.failure_threshold:
            self.state, self.opened_at, self.probing = State.OPEN, now, False
