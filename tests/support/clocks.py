"""A clock the test moves by hand, for code that takes its time as a ``() -> float``."""

from __future__ import annotations


class ManualClock:
    """Reads ``now``, which the test sets or advances; nothing else moves it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
