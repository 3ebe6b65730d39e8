"""Counting rule failures per rule and kind, and logging each rule at most once an interval.

A broken rule fails on every transaction; logging each failure would flood the logs at
thousands of events a second. The counts feed a metric (labels ``rule_id``, ``kind``);
the log line carries how many failures it stands for. The clock is passed in, so the
behaviour is deterministic (the ``limits`` package reads the wall clock itself).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from rule_engine.evaluate import FailureKind, RuleFailure

_LOG = logging.getLogger("rule_engine")


class RuleFailureLog:
    """Per-rule failure counters and a log line per rule per ``interval_s`` at most."""

    def __init__(self, interval_s: float = 60.0, logger: logging.Logger = _LOG) -> None:
        if interval_s <= 0:
            raise ValueError("the interval must be positive")
        self.interval_s = interval_s
        self.counts: Counter[tuple[str, FailureKind]] = Counter()
        self._logger = logger
        self._last_logged: dict[str, float] = {}
        self._unlogged: Counter[str] = Counter()

    def record(self, failures: Iterable[RuleFailure], now: float) -> int:
        """Count ``failures`` (seen at ``now``, in seconds); return how many were logged."""
        logged = 0
        for failure in failures:
            self.counts[failure.rule_id, failure.kind] += 1
            last = self._last_logged.get(failure.rule_id)
            if last is not None and now - last < self.interval_s:
                self._unlogged[failure.rule_id] += 1
                continue
            self._logger.warning(
                "rule %s v%d failed (%s): %s; %d more failures since the last report",
                failure.rule_id,
                failure.version,
                failure.kind,
                failure.message,
                self._unlogged.pop(failure.rule_id, 0),
            )
            self._last_logged[failure.rule_id] = now
            logged += 1
        return logged

    def total(self, rule_id: str) -> int:
        """All failures of one rule so far, whatever their kind."""
        return sum(n for (rule, _), n in self.counts.items() if rule == rule_id)
