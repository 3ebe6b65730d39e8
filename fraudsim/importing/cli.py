"""`sentinel import`: a bank's CSV or Parquet history -> the data set `sentinel train` reads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from fraudsim.importing.run import Summary

console = Console()


def import_command(
    source: Annotated[
        Path, typer.Argument(help="CSV or Parquet file of transactions.", dir_okay=False)
    ],
    mapping: Annotated[
        Path, typer.Option(help="TOML mapping file (see docs/bank-data.md).", dir_okay=False)
    ],
    out: Annotated[Path, typer.Option(help="Data set folder, for `sentinel train --data`.")] = (
        Path("data/imported")
    ),
    rejected: Annotated[
        Path | None, typer.Option(help="Rejection report (default: OUT/rejected.csv).")
    ] = None,
) -> None:
    """Check every row with the live path's rules and write transactions.parquet,
    labels.parquet, import.json and a report of the rejected rows."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    from fraudsim.importing.mapping import ImportingError, load_mapping
    from fraudsim.importing.run import run_import

    began = time.perf_counter()
    columns = ("{task.description}", BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"importing {source.name}", total=None)
            summary = run_import(
                source,
                load_mapping(mapping),
                out,
                rejected_path=rejected,
                mapping_path=mapping,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except ImportingError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    console.print(summary_table(summary, time.perf_counter() - began))
    console.print(f"wrote {out}/ (transactions.parquet, labels.parquet, import.json); "
                  f"rejections in {rejected or out / 'rejected.csv'}")  # fmt: skip
    if not summary.written:
        console.print("[red]no row was accepted: see the rejection report")
        raise typer.Exit(1)


def summary_table(summary: Summary, seconds: float) -> Table:
    rate = summary.read / seconds if seconds > 0 else 0.0
    table = Table(title=f"read {summary.read:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s)")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_column("first example")
    table.add_row("written", f"{summary.written:,}", "")
    for kind, count in summary.rejected.most_common():
        table.add_row(f"rejected: {kind}", f"{count:,}", summary.examples[kind])
    table.add_row("[bold]rejected", f"[bold]{summary.rejected.total():,}", "")
    share = f"{summary.fraud_share:.3%} of written rows"
    table.add_row("fraud labels", f"{summary.labels:,}", share)
    return table
