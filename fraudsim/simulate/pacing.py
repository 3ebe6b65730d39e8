"""A token bucket: steady sending at a given rate, with a short burst allowance."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; a fresh bucket is full.

    Sending in whatever the bucket holds keeps the average at ``rate`` however long each
    send takes, and the small burst smooths the jitter of the sleeping loop without letting
    a stall turn into a flood.
    """

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst, self.clock = rate, burst, clock
        self._tokens = burst
        self._at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` whole tokens, removed from the bucket (0 when it is empty)."""
        self._refill()
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted

    def wait_s(self) -> float:
        """Seconds until at least one token is available."""
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate)
