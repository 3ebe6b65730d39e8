"""`sentinel score`: score a data set's transactions offline with a registered model."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fraudsim.train.cli import Registry

console = Console()
_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def score_command(
    out: Annotated[Path, typer.Option(help="Scores file: .csv or .parquet.")],
    data: Annotated[
        Path, typer.Option(help="Data-set folder (`sentinel import` or `simulate generate`).")
    ] = Path("data/sim"),
    registry: Registry = Path("models"),
    model: Annotated[str | None, typer.Option(help="Model version (default: CURRENT).")] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=_FORMATS,
            help="First scored time (UTC); rows before it "
            "are warm-up history, not written. Default: score from the first row.",
        ),
    ] = None,  # fmt: skip
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            formats=_FORMATS,
            help="End of the scored range (UTC, excluded); "
            "rows from it on are not read. Default: to the last row.",
        ),
    ] = None,  # fmt: skip
    review_at: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Override the card's review_at.")
    ] = None,
    decline_at: Annotated[
        float | None, typer.Option(min=0.0, help="Override the card's decline_at.")
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(help="Rules JSON as `sentinel rules load` reads (default: model only)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes for the features.")] = 2,
) -> None:
    """Features by the stream's own code after warm-up history, then scores, outcomes and
    reason codes as the agents decide (a rules file's rules, if given). No Kafka, no ledger."""
    from rich.progress import Progress, TaskID

    from decision_core.thresholds import ThresholdOverrides
    from fraudsim.score.data import Range, ScoreError
    from fraudsim.score.output import summary_path
    from fraudsim.score.run import Options, score

    try:
        options = Options(
            data, registry, out, model, Range(_ms(start), _ms(end)),
            ThresholdOverrides(review_at, decline_at), rules, workers,
        )  # fmt: skip
        with Progress(console=console) as progress:
            tasks: dict[str, TaskID] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            summary = score(options, advance)
    except ScoreError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"{summary['rows_scored']} scored, {summary['rejected']} rejected, "
        f"outcomes {summary['outcomes']} with {summary['model_version']} "
        f"({summary['rules']['note']}); {summary['rows_read_per_second']} rows/s read -> {out}, "
        f"{summary_path(out)}"
    )


def _ms(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    from fraudsim.tables import utc

    return int(utc(moment).timestamp() * 1000)
