"""The capacity model's arithmetic over `make bench`'s JSON."""

from __future__ import annotations

from typing import Any

import pytest

from bench import capacity


def step(rate: float, agent: float | None, keeps_up: bool = True) -> dict[str, Any]:
    return {
        "offered_per_s": rate,
        "keeps_up": keeps_up,
        "cpu_us_per_tx": {
            "api": 1_000.0,
            "agent-1": agent,
            "agent-2": agent,
            "kafka (shared)": 300.0,
            "sink": 100.0,
            "postgres (shared)": 150.0,
            "webhooks": 50.0,
            "bench driver": 20.0,
        },
        "kafka_bytes_per_tx": {"all topics": 3_000.0},
    }


def test_a_stage_sums_its_processes() -> None:
    figures = {"agent-1": 200.0, "agent-2": 250.0, "sink": 90.0}
    assert capacity.stage_cost(figures, ("agent-",)) == 450.0
    assert capacity.stage_cost(figures, ("api",)) is None
    assert capacity.stage_cost({"agent-1": None}, ("agent-",)) is None


def test_only_the_steps_before_the_first_failure_count() -> None:
    steps = [step(2_000, 1.0, keeps_up=False), step(500, 1.0), step(3_000, 1.0), step(1_000, 1.0)]
    assert [s["offered_per_s"] for s in capacity.kept_up(steps)] == [500, 1_000]


def test_cores_follow_the_highest_kept_up_step() -> None:
    found = capacity.model({"steps": [step(500, 400.0), step(1_000, 300.0)]})
    agents = found["stages"]["agents"]
    assert agents["us_per_tx"] == [800.0, 600.0]
    # 600 µs a transaction at 10,000/s is 6 cores busy, 10 at 60 % each.
    assert agents["cores"][10_000] == pytest.approx(10.0)
    assert found["agent_workers"] == {10_000: 10, 50_000: 50}
    # Everything but the API: agents 600 + Kafka 300 + sink 100 + PostgreSQL 150 + hooks 50.
    assert found["total_cores_kafka_ingest"][10_000] == pytest.approx(1_200 * 0.01 / 0.6)
    assert found["kafka_bytes_per_tx"] == {"all topics": 3_000.0}


def test_no_kept_up_step_is_refused() -> None:
    with pytest.raises(ValueError, match="kept up"):
        capacity.model({"steps": [step(500, 1.0, keeps_up=False)]})


def test_the_tables_replace_only_the_generated_section() -> None:
    found = capacity.model({"steps": [step(500, 400.0)]})
    section = capacity.markdown(found, None)
    assert "| agents | 800 | 13.3 | 66.7 |" in section
    doc = f"intro\n{capacity.BEGIN}\nold\n{capacity.END}\noutro\n"
    assert capacity.replace_section(doc, section) == (
        f"intro\n{capacity.BEGIN}\n{section}{capacity.END}\noutro\n"
    )
    with pytest.raises(ValueError, match="markers"):
        capacity.replace_section("no markers", section)


def test_every_row_has_as_many_cells_as_the_header() -> None:
    found = capacity.model({"steps": [step(500, 400.0), step(1_000, 300.0)]})
    table = [line for line in capacity.markdown(found, None).splitlines() if line][:9]
    widths = {line.count("|") for line in table}
    # A stage, one column per measured rate, two targets: cells + 1 bars.
    assert widths == {1 + len(found["rates"]) + 2 + 1}
