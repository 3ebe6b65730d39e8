"""`sentinel replay`: replay a range of transactions through a candidate and report the diff."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from decision_core.settings import DecisionSettings
from replay.errors import ReplayError
from replay.output import show, write
from replay.plan import (
    DEFAULT_WARMUP_MS,
    RuleRef,
    format_duration,
    parse_duration,
    parse_instant,
    parse_offsets,
    parse_partitions,
)
from replay.service import ReplayRequest, replay
from replay.settings import ReplaySettings, agents_breaker, agents_thresholds
from replay.source import Selection
from schemas.secrets import refuse_default_secrets

replay_app = typer.Typer(help="Replay transactions through candidate rules and models.")
console = Console()
_DEFAULT_WARMUP = format_duration(DEFAULT_WARMUP_MS)

Since = Annotated[str | None, typer.Option("--from", help="Start (ISO 8601; UTC if no zone).")]
Until = Annotated[str | None, typer.Option("--to", help="End, exclusive (ISO 8601).")]


@replay_app.callback(invoke_without_command=True)
def main(
    since: Since = None,
    until: Until = None,
    start_offsets: Annotated[
        str | None, typer.Option(help="Start offsets, e.g. 0:100,1:250 (others: --from/earliest).")
    ] = None,
    end_offsets: Annotated[
        str | None, typer.Option(help="End offsets, exclusive (others: --to/the end now).")
    ] = None,
    partitions: Annotated[str | None, typer.Option(help="Only these partitions: 0,3,5.")] = None,
    warmup: Annotated[
        str, typer.Option(help="Feature warm-up before the range: 30d5m, 12h, 0, or all.")
    ] = _DEFAULT_WARMUP,
    topic: Annotated[str | None, typer.Option(help="Source topic (default: transactions).")] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Candidate rules: JSON as `sentinel rules load` reads.")
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(help="Rule id or name from PostgreSQL, optionally @VERSION; repeatable."),
    ] = None,
    rules_base: Annotated[
        str, typer.Option(help="live: the rules topic's rules plus the candidate's; none.")
    ] = "live",
    registry: Annotated[Path | None, typer.Option(help="Model registry folder.")] = None,
    model: Annotated[str | None, typer.Option(help="Model version (default: CURRENT).")] = None,
    review_at: Annotated[
        float | None, typer.Option(help="REVIEW threshold (default: the card's).")
    ] = None,
    decline_at: Annotated[
        float | None, typer.Option(help="DECLINE threshold (default: the card's).")
    ] = None,
    breaker: Annotated[bool, typer.Option(help="Apply the decline circuit breaker.")] = True,
    ledger: Annotated[bool, typer.Option(help="Compare with the ledger's decisions.")] = True,
    to_topic: Annotated[
        str | None, typer.Option(help="Also publish replayed decisions here (never a live topic).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write report.json and CSVs here.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (0: auto).")] = None,
) -> None:
    """Replay a range of the transactions topic with the live agents' code and compare."""
    agents = DecisionSettings()
    settings = ReplaySettings()
    # PostgreSQL only when it is read: the ledger to compare with, or rules named by id.
    refuse_default_secrets(settings.kafka, *([settings.postgres] if ledger or rule else []))
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    try:
        request = ReplayRequest(
            selection=Selection(
                since=parse_instant(since) if since else None,
                until=parse_instant(until) if until else None,
                start_offsets=parse_offsets(start_offsets),
                end_offsets=parse_offsets(end_offsets),
                partitions=parse_partitions(partitions),
                warmup_ms=parse_duration(warmup),
            ),
            topic=topic,
            rules_file=rules,
            rule_refs=tuple(RuleRef.parse(r) for r in rule or ()),
            rules_base=rules_base,
            registry=registry or agents.model_registry,
            model=model,
            thresholds=agents_thresholds(agents, review_at, decline_at),
            breaker=agents_breaker(agents) if breaker else None,
            to_topic=to_topic,
            compare_ledger=ledger,
        )
        with _progress() as bar:
            task = bar.add_task("replaying", total=None)
            outcome = replay(
                request,
                settings,
                progress=lambda n: bar.advance(task, n),
                planned=lambda total: bar.update(task, total=total),
            )
    except (ReplayError, ValueError) as exc:
        console.print(f"[red]replay: {exc}[/red]")
        raise typer.Exit(2) from exc
    show(console, outcome.report)
    if out is not None:
        for path in write(out, outcome.report, outcome.changes):
            console.print(f"wrote {path}")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
