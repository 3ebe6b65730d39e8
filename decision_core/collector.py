"""The garbage collector of a process that decides transactions (an agent worker, a replay
worker): what start-up loaded frozen out of every collection, young collections rarer.

Deciding allocates a Transaction, a features dict, a Decision... per record, next to none
of them in reference cycles. At CPython's default first-generation threshold (700
allocations) the collector took ~10 % of the decision code in replay's shape and stopped an
agent's event loop for up to 146 ms in full collections that walked every loaded rule,
model and library object (docs/performance.md). Process-wide settings: only a process that
is the decision code's alone calls this.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_deciding(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Freeze what is alive now (collected first) and raise the young generation's
    threshold to ``young_threshold``; the older generations' stay."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
