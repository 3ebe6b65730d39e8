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


def test_standby_report_logs_each_catch_up_once_and_sets_the_gauges(caplog) -> None:
    from stream_agents.metrics import StandbyReport

    report = StandbyReport()
    with caplog.at_level("INFO", logger="stream_agents"):
        report.observe(False, None)  # a rebalance: faust recovers the actives first
        assert sample("sentinel_agent_standbys_ready", {}) == 0
        report.observe(True, 1200)
        assert sample("sentinel_agent_standby_behind_records", {}) == 1200
        report.observe(True, 0)
        report.observe(True, 0)
        report.observe(False, 0)  # the next rebalance: behind again until shown otherwise
        report.observe(True, 0)
    caught_up = [r for r in caplog.records if r.getMessage() == "standby partitions caught up"]
    assert len(caught_up) == 2
    assert sample("sentinel_agent_standbys_ready", {}) == 1
    assert sample("sentinel_agent_standby_behind_records", {}) == 0


def test_standbys_behind_counts_each_partition_up_to_its_high_water() -> None:
    from stream_agents.metrics import StandbyReport

    standbys = ["p0", "p1", "p2"]
    # p0 has passed its high-water (traffic since the rebalance): 0, not negative; p1 has
    # applied nothing yet (-1 or None); p2 is 5 behind.
    highwaters = {"p0": 100, "p1": 9, "p2": 50}
    assert StandbyReport.behind(standbys, highwaters, {"p0": 130, "p1": None, "p2": 45}) == 15
    assert StandbyReport.behind(standbys, highwaters, {"p0": 130, "p1": 9, "p2": 50}) == 0
    # Before faust has read a high-water for every standby: unknown, not caught up.
    assert StandbyReport.behind(standbys, {"p0": 100}, {"p0": 100}) is None
    assert StandbyReport.behind([], {}, {}) == 0
