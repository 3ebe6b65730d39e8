"""The decision code's reports become the agents' Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from stream_agents.metrics import MetricsObserver

OBSERVER = MetricsObserver()


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("report", "name", "labels"),
    [
        (lambda: OBSERVER.rule_failed("r-1"), "sentinel_agent_rule_failures_total",
         {"rule_id": "r-1"}),
        (lambda: OBSERVER.breaker_degraded("r-2"), "sentinel_agent_breaker_degraded_total",
         {"rule_id": "r-2"}),
        (lambda: OBSERVER.rule_rejected("r-3"), "sentinel_agent_rules_rejected_total", {}),
        (lambda: OBSERVER.model_swapped("champion"), "sentinel_agent_model_swaps_total",
         {"role": "champion"}),
        (lambda: OBSERVER.model_load_failed("challenger"),
         "sentinel_agent_model_load_failures_total", {"role": "challenger"}),
        (OBSERVER.challenger_failed, "sentinel_agent_challenger_failures_total", {}),
    ],
)  # fmt: skip
def test_each_report_counts_once(
    report: Callable[[], None], name: str, labels: dict[str, str]
) -> None:
    before = sample(name, labels)
    report()
    assert sample(name, labels) == before + 1


def test_the_rule_set_size_is_a_gauge() -> None:
    OBSERVER.rules_loaded(7)
    assert sample("sentinel_agent_rules_loaded", {}) == 7
