"""`sentinel simulate generate|produce`: labelled data to Parquet, or live traffic to Kafka."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fraudsim.simulate.config import SimConfig
from fraudsim.simulate.dataset import STEPS, SimulatedData, simulate

simulate_app = typer.Typer(help="The labelled transaction simulator (Le Borgne et al. design).")
console = Console()

Customers = Annotated[int, typer.Option(help="Customers (accounts).")]
Terminals = Annotated[int, typer.Option(help="Terminals (merchants).")]
Days = Annotated[int, typer.Option(help="Days simulated.")]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")]
ReferenceOnly = Annotated[
    bool, typer.Option("--reference-only", help="Only the published design's three scenarios.")
]


def _config(
    customers: int, terminals: int, days: int, seed: int, start: date, reference_only: bool
) -> SimConfig:
    cfg = SimConfig(
        customers=customers,
        terminals=terminals,
        days=days,
        seed=seed,
        start=datetime(start.year, start.month, start.day, tzinfo=UTC),
    )
    return cfg.reference_only() if reference_only else cfg


def run_simulation(cfg: SimConfig) -> SimulatedData:
    """Simulate with a progress bar over the generation steps."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("simulating", total=len(STEPS))
        return simulate(cfg, lambda name: progress.update(task, advance=1, description=name))


def summary(data: SimulatedData, seconds: float) -> Table:
    n = len(data.rows)
    table = Table(title=f"simulated {n:,} transactions in {seconds:.1f} s")
    for column in ("scenario", "transactions", "share"):
        table.add_column(column, justify="right" if column != "scenario" else "left")
    for name, count in data.scenario_counts().items():
        table.add_row(name, f"{count:,}", f"{count / n:.3%}")
    fraud = int(data.is_fraud.sum())
    table.add_row("[bold]all fraud", f"[bold]{fraud:,}", f"[bold]{fraud / n:.3%}")
    return table


@simulate_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Folder for the Parquet files.")] = Path("data/sim"),
    customers: Customers = 5_000,
    terminals: Terminals = 10_000,
    days: Days = 183,
    seed: Seed = 0,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day (UTC).")] = (
        datetime(2018, 4, 1)  # noqa: DTZ001 - a calendar date; made UTC in _config
    ),
    reference_only: ReferenceOnly = False,
) -> None:
    """Simulate and write transactions.parquet and labels.parquet (fraud labels)."""
    from fraudsim.tables import write_dataset

    cfg = _config(customers, terminals, days, seed, start.date(), reference_only)
    began = time.perf_counter()
    data = run_simulation(cfg)
    elapsed = time.perf_counter() - began
    with console.status("writing Parquet"):
        paths = write_dataset(data, out)
    console.print(summary(data, elapsed))
    console.print(f"wrote {paths[0]} and {paths[1]}")


@simulate_app.command("produce")
def produce(
    rate: Annotated[float, typer.Option(help="Transactions a second.", min=0.001)] = 200.0,
    max_events: Annotated[int | None, typer.Option(help="Stop after this many.")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    customers: Customers = 500_000,
    terminals: Terminals = 5_000,
    seed: Annotated[int, typer.Option(help="Seed of the population (customers, terminals).")] = 1,
    run_seed: Annotated[
        int | None,
        typer.Option(help="Seed of the traffic; default random, so every run sends new ids."),
    ] = None,
    reference_only: ReferenceOnly = False,
) -> None:
    """Send simulated transactions to Kafka at a steady rate, and fraud labels after them.

    Endless unless --max-events or --duration: the simulator draws one day after another
    of the same population, and each transaction is stamped with the time it is sent.
    Every run sends new transaction ids (stop it and start it again: nothing repeats).
    An account pays about once every customers / rate seconds of real time: the default
    half a million at 200 a second, once every 40 minutes or so: the velocity rules stay
    quiet, the travel rule still fires on a few per cent (a simulated day runs ~16 times
    faster than real, docs/model.md#simulate-and-train). With 20,000 (the
    default until 2026-12-06) every account paid every 100 seconds: the seed rules
    reviewed three quarters of the traffic, and the states of 30 days grew all the time.
    Drawing the population takes ~10 s at the default, and the producer holds ~1 GiB.
    """
    from fraudsim.simulate.kafka_cli import Traffic, stream

    today = datetime.now(UTC).date()
    cfg = _config(customers, terminals, 1, seed, today, reference_only)
    if stream(Traffic(cfg, rate, max_events, duration, run_seed), console).failed:
        raise typer.Exit(1)
