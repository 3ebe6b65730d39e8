"""When a failed delivery is tried again: exponential backoff with "equal jitter"."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

_SYSTEM_RANDOM = random.SystemRandom()


def ceiling(attempt: int, base_s: float, max_s: float) -> float:
    """The un-jittered delay after failed attempt `attempt` (1-based): base * 2**(n-1), capped."""
    if attempt < 1:
        raise ValueError(f"attempt {attempt} is not 1-based")
    # Capping the exponent first keeps 2**n from growing without bound on long outages.
    return min(max_s, math.ldexp(base_s, min(attempt - 1, 62)))


def delay(
    attempt: int,
    base_s: float,
    max_s: float,
    uniform: Callable[[float, float], float] = _SYSTEM_RANDOM.uniform,
) -> float:
    """A delay in [ceiling/2, ceiling]: it still grows each time (unlike full jitter), and
    subscribers that failed together do not come back together."""
    top = ceiling(attempt, base_s, max_s)
    return top / 2 + uniform(0.0, top / 2)
