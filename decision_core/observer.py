"""What the decision code reports as it runs: rule failures, breaker trips, model swaps.

The core counts nothing itself (no metrics library here): each holder calls its
``Observer``, whose methods do nothing; the agents pass one that feeds their Prometheus
metrics (``stream_agents.metrics.MetricsObserver``), replay and training keep the silent one.
"""

from __future__ import annotations

from typing import Final


class Observer:
    """Callbacks of the decision code; every one of them does nothing unless overridden."""

    def rule_failed(self, rule_id: str) -> None:
        """A rule's evaluation failed at run time (``RulesJudge``)."""

    def breaker_degraded(self, rule_id: str) -> None:
        """The breaker degraded a rule's decline to a review (``RulesJudge``)."""

    def rules_loaded(self, count: int) -> None:
        """The live rule set changed; it now holds ``count`` rules (``ReferenceData``)."""

    def rule_rejected(self, rule_id: str) -> None:
        """A rule version did not compile and is not run (``ReferenceData``)."""

    def model_swapped(self, role: str) -> None:
        """A model announcement for ``role`` was made live (``ModelBook``)."""

    def model_load_failed(self, role: str) -> None:
        """An announced model could not be loaded; the previous one stays (``ModelBook``)."""

    def challenger_failed(self) -> None:
        """The challenger could not score a micro-batch (``shadow_scores``)."""


SILENT: Final = Observer()
