"""The capacity model: cores (and agent partitions) for a target rate, from what `make bench`
measured per transaction.

    .venv/bin/python -m bench.capacity            # print the tables
    .venv/bin/python -m bench.capacity --write    # and rewrite them in docs/capacity.md
    .venv/bin/python -m bench.capacity --pipeline bench/results/<a kept run>.json --write

Inputs: bench/results/pipeline.json (each step's CPU µs per transaction of every process
and bytes per transaction of every topic) and, when present, bench/results/scaling.json
(decisions/s per worker with 1, 2, 3 workers). The model is linear: a stage's cores at a
rate are its CPU per transaction times the rate, over the share of a core it may use
(``UTILISATION``: headroom for bursts, rebalances and catching up after a restart). It
takes each stage's figure at the highest step that kept up, where batches are largest and
the figure lowest; the lower steps are shown beside it so the reader sees how much the
figures move with the rate. Pure functions over the JSON, unit-tested.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from bench import pipeline_stats as stats

RESULTS = Path(__file__).with_name("results")
DOC = Path(__file__).parent.parent / "docs" / "capacity.md"
BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"
UTILISATION = 0.6  # of each core, at the target rate
TARGETS = (10_000, 50_000)
# Stage -> the processes of `make bench` it sums ("agent-" takes every worker).
STAGES: Mapping[str, tuple[str, ...]] = {
    "ingest API (per transaction received over HTTP)": ("api",),
    "agents": ("agent-",),
    "Kafka broker": ("kafka (shared)",),
    "ledger sink": ("sink",),
    "PostgreSQL": ("postgres (shared)",),
    "webhook dispatcher": ("webhooks",),
}


def stage_cost(cpu_us_per_tx: Mapping[str, float | None], names: Sequence[str]) -> float | None:
    """A stage's CPU µs per transaction: the sum over its processes (None if one is
    missing)."""
    found = [v for key, v in cpu_us_per_tx.items() if any(key.startswith(n) for n in names)]
    if not found or any(v is None for v in found):
        return None
    return float(sum(v for v in found if v is not None))


def kept_up(steps: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The steps that kept up, in rising order of rate, up to the first that did not."""
    return stats.rising_until(steps, lambda step: bool(step["keeps_up"]))


def cores(us_per_tx: float, rate: float, utilisation: float = UTILISATION) -> float:
    """Cores a stage needs at ``rate`` transactions a second."""
    return us_per_tx * rate / 1e6 / utilisation


def model(pipeline: Mapping[str, Any]) -> dict[str, Any]:
    """Per stage: the µs per transaction at each kept-up step, and the cores at each target
    from the highest one; plus Kafka bytes per transaction."""
    steps = kept_up(pipeline["steps"])
    if not steps:
        raise ValueError("no step of this run kept up: nothing to model")
    top = steps[-1]
    stages = {}
    for stage, names in STAGES.items():
        per_step = [stage_cost(s["cpu_us_per_tx"], names) for s in steps]
        basis = per_step[-1]
        stages[stage] = {
            "us_per_tx": per_step,
            "cores": {t: None if basis is None else cores(basis, t) for t in TARGETS},
        }
    counted = [v["cores"] for k, v in stages.items() if not k.startswith("ingest")]
    totals = {t: sum(c[t] or 0.0 for c in counted) for t in TARGETS}
    agents = stages["agents"]["cores"]
    return {
        "rates": [float(s["offered_per_s"]) for s in steps],
        "basis_rate": float(top["offered_per_s"]),
        "stages": stages,
        "total_cores_kafka_ingest": totals,
        # One worker is one process on one core (Python, one event loop); the transactions
        # topic needs at least a partition per worker, twice that to grow without
        # repartitioning (the feature state moves with its partition).
        "agent_workers": {t: math.ceil(agents[t] or 0.0) for t in TARGETS},
        "kafka_bytes_per_tx": top.get("kafka_bytes_per_tx", {}),
    }


def markdown(found: Mapping[str, Any], scaling: Mapping[str, Any] | None) -> str:
    """The tables docs/capacity.md shows between its markers."""
    rates = " | ".join(f"µs/tx at {r:,.0f} tx/s" for r in found["rates"])
    lines = [
        f"| stage | {rates} | cores at 10,000 tx/s | cores at 50,000 tx/s |",
        "|---|" + "---:|" * (len(found["rates"]) + 2),
    ]
    for stage, row in found["stages"].items():
        costs = " | ".join("–" if v is None else f"{v:,.0f}" for v in row["us_per_tx"])
        c = row["cores"]
        lines.append(f"| {stage} | {costs} | {_cores(c[10_000])} | {_cores(c[50_000])} |")
    totals = found["total_cores_kafka_ingest"]
    cells = ["**all but the API** (transactions produced to Kafka)"]
    cells += [""] * len(found["rates"])
    cells += [f"**{totals[10_000]:,.0f}**", f"**{totals[50_000]:,.0f}**"]
    lines.append("| " + " | ".join(cells) + " |")
    workers = found["agent_workers"]
    lines += [
        "",
        f"Agent workers (one core each): {workers[10_000]} at 10,000 tx/s, "
        f"{workers[50_000]} at 50,000; the transactions topic needs at least as many "
        f"partitions, and twice as many to grow without repartitioning.",
        "",
        "Bytes appended to Kafka per transaction, at "
        f"{found['basis_rate']:,.0f} tx/s (after compression, batch overhead included):",
        "",
        "| topic | bytes |",
        "|---|---:|",
    ]
    for topic, size in found["kafka_bytes_per_tx"].items():
        if size:  # topics the bench does not write to (rules, labels...) left out
            lines.append(f"| {topic} | {size:,.0f} |")
    if scaling:
        lines += [
            "",
            f"Agents alone at {scaling['rate_per_s']:,} tx/s offered (`make bench-scaling`):",
            "",
            "| workers | decided/s | per worker | workers' CPU µs/tx | p99 append→decision |",
            "|---:|---:|---:|---:|---:|",
        ]
        for run in scaling["runs"]:
            p99 = run["append_to_decision_ms"]["p99_ms"]
            lines.append(
                f"| {run['workers']} | {run['achieved_per_s']:,.0f} | "
                f"{run['per_worker_per_s']:,.0f} | {run['workers_cpu_us_per_tx']:,.0f} | "
                f"{'–' if p99 is None else f'{p99:,.0f} ms'} |"
            )
    return "\n".join(lines) + "\n"


def _cores(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def replace_section(text: str, section: str) -> str:
    """``text`` with what lies between the markers replaced by ``section``."""
    head, found, rest = text.partition(BEGIN)
    if not found or END not in rest:
        raise ValueError(f"the markers {BEGIN} ... {END} are missing")
    return f"{head}{BEGIN}\n{section}{END}{rest.partition(END)[2]}"


def main(
    write: bool = typer.Option(False, help="Rewrite the generated part of docs/capacity.md."),
    pipeline_file: Path = typer.Option(  # noqa: B008 - typer's way to declare the option
        RESULTS / "pipeline.json",
        "--pipeline",
        help="The make bench run to model (a run that kept up with its highest rates).",
    ),
) -> None:
    pipeline = json.loads(pipeline_file.read_text())
    scaling_file = RESULTS / "scaling.json"
    scaling = json.loads(scaling_file.read_text()) if scaling_file.exists() else None
    section = markdown(model(pipeline), scaling)
    sys.stdout.write(section)
    if write:
        DOC.write_text(replace_section(DOC.read_text(), section))


if __name__ == "__main__":
    typer.run(main)
