"""How long the agent lets transactions gather before it takes its next micro-batch.

A micro-batch has costs that do not grow with its size: the model's calls (XGBoost's
per-call overhead is most of a five-row prediction), the claim round trip, two publishes
and the marks. ``make bench-decide --agent-batch`` puts the decision code alone at ~1.7x
the CPU per transaction in batches of 5 as in batches of 500, and a worker at a steady few
hundred transactions a second used to decide batches of a few. So the pacer waits for a
batch to fill when waiting pays, and not otherwise:

- **idle or slow traffic** (fewer than ``min_gain`` transactions expected within the cap):
  no wait; a lone transaction is decided as soon as faust hands it over;
- **steady traffic**: up to ``cap_s`` after a batch starts, enough to gather ``target``
  transactions at the rate seen, so batches grow with the rate;
- **a backlog**: no wait either, batches fill to ``batch_max`` on their own.

The rate is an exponentially weighted mean of each batch's size over the time since the
previous one started. Pure: the clock is the caller's; ``stream_agents.app`` sleeps for
what ``pause`` says between handing a batch to the agent and taking the next, while faust
keeps the arriving transactions queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class BatchPacer:
    """The wait before each micro-batch, from the arrival rate the batches show."""

    cap_s: float  # longest a transaction is held back so that its batch fills
    target: int  # batch size beyond which gathering more saves little CPU
    min_gain: float = 4.0  # transactions a wait must be expected to add to be worth it
    smoothing: float = 0.2  # weight of the newest batch in the rate
    rate: float = field(default=0.0, init=False)  # transactions per second
    _last_start: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.cap_s < 0 or self.target < 1 or self.min_gain < 0:
            raise ValueError(f"invalid pacing: {self!r}")
        if not 0 < self.smoothing <= 1:
            raise ValueError(f"smoothing must lie in (0, 1], got {self.smoothing}")

    def started(self, size: int, at: float) -> None:
        """A batch of ``size`` transactions was taken at ``at`` (seconds, monotonic)."""
        if self._last_start is not None:
            interval = at - self._last_start
            if interval > 0:
                self.rate += self.smoothing * (size / interval - self.rate)
        self._last_start = at

    def pause(self, busy_s: float) -> float:
        """Seconds to wait before taking the next batch, the last one having taken
        ``busy_s`` since it started: the time a ``target`` batch takes to arrive, at most
        the cap, less what deciding the last one already took."""
        if self.rate * self.cap_s < self.min_gain:
            return 0.0
        return max(0.0, min(self.target / self.rate, self.cap_s) - busy_s)
