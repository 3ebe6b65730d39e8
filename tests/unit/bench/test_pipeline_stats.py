"""The arithmetic of the whole-pipeline benchmark: percentiles, keeping up, the sustained rate."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import pipeline_stats as stats


def step(
    offered: float,
    achieved: float | None = None,
    p99: float | None = 50.0,
    agents: tuple[int | None, int | None] = (100, 100),
    sink: tuple[int | None, int | None] = (200, 250),
) -> dict[str, Any]:
    return {
        "offered_per_s": offered,
        "achieved_per_s": offered if achieved is None else achieved,
        "backlog": {
            "agents": {"start": agents[0], "end": agents[1]},
            "sink": {"start": sink[0], "end": sink[1]},
        },
        "latency_ms": {"ingest_to_decision": {"p99_ms": p99}},
    }


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert stats.percentile(values, 0.5) == 50.0
    assert stats.percentile(values, 0.99) == 99.0
    assert stats.percentile(values, 1.0) == 100.0
    assert stats.percentile([7.0], 0.999) == 7.0


def test_percentile_refuses_nothing_and_bad_quantiles() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 0.5)
    with pytest.raises(ValueError, match="q must lie"):
        stats.percentile([1.0], 0.0)


def test_summary_sorts_and_counts() -> None:
    result = stats.summary([5.0, 1.0, 3.0, 2.0, 4.0] * 200)
    assert result == {
        "p50_ms": 3.0,
        "p99_ms": 5.0,
        "p999_ms": 5.0,
        "max_ms": 5.0,
        "samples": 1000,
    }


def test_summary_of_nothing_has_no_figures() -> None:
    assert stats.summary([]) == {
        "p50_ms": None,
        "p99_ms": None,
        "p999_ms": None,
        "max_ms": None,
        "samples": 0,
    }


def test_a_step_that_delivers_and_holds_its_backlogs_keeps_up() -> None:
    assert stats.keeps_up(step(1000, achieved=960))


def test_delivering_too_little_is_falling_behind() -> None:
    assert not stats.keeps_up(step(1000, achieved=900))


def test_a_growing_backlog_in_any_stage_is_falling_behind() -> None:
    # Slack at 4,000/s is half a second of traffic: 2,000 records.
    assert stats.keeps_up(step(4000, agents=(100, 2_000)))
    assert not stats.keeps_up(step(4000, agents=(100, 2_200)))
    assert not stats.keeps_up(step(4000, sink=(0, 5_000)))
    # A shrinking backlog is fine, however large.
    assert stats.keeps_up(step(4000, sink=(50_000, 10_000)))


def test_low_rates_get_a_minimum_slack() -> None:
    assert stats.backlog_slack(100) == stats.MIN_BACKLOG_SLACK
    assert stats.keeps_up(step(100, agents=(0, 450)))


def test_an_unreadable_backlog_does_not_count_as_keeping_up() -> None:
    assert not stats.keeps_up(step(1000, sink=(None, 10)))


def test_sustained_rate_is_the_highest_step_within_budget() -> None:
    steps = [step(500, p99=20), step(1000, p99=80), step(2000, p99=150), step(3000, p99=450)]
    found = stats.sustained_rate(steps, budget_ms=200)
    assert found is not None and found["offered_per_s"] == 2000


def test_a_step_over_budget_or_behind_ends_the_search() -> None:
    steps = [
        step(500, p99=20),
        step(1000, achieved=700),  # fell behind
        step(2000, p99=30),  # a quiet moment, not capacity
    ]
    found = stats.sustained_rate(steps, budget_ms=200)
    assert found is not None and found["offered_per_s"] == 500


def test_no_sustained_rate_when_the_first_step_fails() -> None:
    assert stats.sustained_rate([step(250, p99=900)], budget_ms=200) is None
    assert stats.sustained_rate([step(250, p99=None)], budget_ms=200) is None
    assert stats.sustained_rate([], budget_ms=200) is None


def test_ratio_without_a_figure_is_none() -> None:
    assert stats.ratio(None, 10.0) is None
    assert stats.ratio(5.0, 0.0) is None
    assert stats.ratio(5.0, 10.0) == 0.5


def test_cpu_per_transaction_of_each_process() -> None:
    resources = {
        "agent-1": {"cpu_percent": 40.0, "rss_mib": 300.0},
        "api": {"cpu_percent": 15.0, "rss_mib": 300.0},
        "machine": {"cpu_percent": 50.0},
    }
    found = stats.per_transaction(resources, decided_per_s=1000.0, http_per_s=100.0, cores=2)
    # 0.4 of a core over 1,000 decisions a second; the API over the 100 it received; the
    # machine: half of two cores.
    assert found == {"agent-1": 400.0, "api": 1500.0, "machine": 1000.0}
    assert stats.per_transaction(resources, 0.0, 0.0, cores=2)["agent-1"] is None


def test_bytes_per_transaction_by_topic_and_in_all() -> None:
    before = {"decisions": 1_000, "changelog": 50_000}
    after = {"decisions": 201_000, "changelog": 40_000, "webhooks": 30_000}
    found = stats.bytes_per_transaction(before, after, decided=100)
    # The changelog was compacted in between: counted as zero, never negative.
    assert found == {
        "all topics": 2_300.0,
        "changelog": 0.0,
        "decisions": 2_000.0,
        "webhooks": 300.0,
    }
    assert stats.bytes_per_transaction(before, after, decided=0)["decisions"] is None


def test_without_a_budget_the_highest_step_kept_up_is_found() -> None:
    # make bench's `kept_up`: no step met the 50 ms budget, 1,000 tx/s kept up at 466 ms.
    steps = [step(250, p99=66), step(500, p99=104), step(1000, p99=466), step(2000, achieved=997)]
    assert stats.sustained_rate(steps, budget_ms=50) is None
    kept = stats.sustained_rate(steps, budget_ms=math.inf)
    assert kept is not None and kept["offered_per_s"] == 1000


def test_the_agents_batches_in_a_window_and_their_mean_size() -> None:
    # Readings of the workers' batch-size histograms: (batches so far, transactions in them).
    assert stats.batches_between((100.0, 250.0), (1100.0, 5250.0)) == {
        "count": 1000.0,
        "transactions": 5000.0,
        "mean_size": 5.0,
    }
    assert stats.batches_between((7.0, 9.0), (7.0, 9.0))["mean_size"] is None
