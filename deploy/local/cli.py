"""`sentinel stack up|down|status`: the local Kafka, PostgreSQL and Redis."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.table import Table

from deploy.acls import PRINCIPALS
from deploy.local import credentials, envfile, kafka_security, pipeline, stack
from deploy.local.kafka_cluster import with_brokers
from deploy.local.settings import StackSettings
from deploy.local.system import StackError
from schemas.secrets import refuse_default_secrets

app = typer.Typer(help="Run the local stack: Apache Kafka (KRaft), PostgreSQL and Redis.")
console = Console()


def _show(rows: list[stack.ServiceStatus]) -> None:
    table = Table(title="SentinelStream local stack")
    for column in ("service", "address", "pid", "answers", "log"):
        table.add_column(column)
    for row in rows:
        answer = "[green]yes[/]" if row.answers else "[red]no[/]"
        table.add_row(row.name, row.address, str(row.pid or "-"), answer, str(row.log_file))
    console.print(table)


@app.command()
def up(
    brokers: int | None = typer.Option(
        None,
        "--brokers",
        min=1,
        max=5,
        help="Kafka nodes (broker+controller each): 1, or 3 for a replicated cluster; "
        "kept in the env file (SENTINEL_STACK_KAFKA_BROKERS). Default: as before, else 1.",
    ),
) -> None:
    """Install what is missing, start every service and wait until each one answers."""
    settings = StackSettings()
    if brokers is not None:
        try:
            settings = with_brokers(settings, brokers)
        except StackError as exc:
            console.print(f"[red]stack up failed:[/] {exc}")
            raise typer.Exit(1) from exc
    # The stack's servers listen where these settings say, with these passwords.
    refuse_default_secrets(settings.kafka, settings.postgres, settings.redis, admin=True)
    generated: list[str] = []
    principals: dict[str, str] = {}
    if envfile.env_file_path() is not None:  # somewhere to keep them: generate, else don't
        settings, generated = credentials.generate(settings, envfile.file_values(), os.environ)
        # Each Kafka principal's SCRAM password (deploy.acls), made once and kept.
        principals = kafka_security.new_passwords(kafka_security.known_values(), PRINCIPALS)
        generated += sorted(principals)
    # Written before any server is given a new password, so that none is ever lost.
    written = envfile.write(settings, principals)
    if generated:
        console.print(f"[dim]generated passwords for {', '.join(generated)} in {written}[/]")
    changes: list[str] = []

    def secured(change: str) -> None:
        console.print(f"[yellow]{change}[/]")
        changes.append(change)

    try:
        rows = stack.up(
            settings, say=lambda line: console.print(f"[dim]{line}[/]"), secured=secured
        )
    except StackError as exc:
        console.print(f"[red]stack up failed:[/] {exc}")
        raise typer.Exit(1) from exc
    _show(rows)
    if written is not None:
        console.print(f"configuration every sentinel command reads: {written}")
    if changes:
        console.print(
            "[yellow]the stack's passwords changed: processes started before this (the "
            "pipeline's services) must restart to read them: `make down && make up`[/]"
        )


@app.command()
def status() -> None:
    """Show each service, its address and whether it answers; exit 1 if any does not."""
    rows = stack.status(StackSettings())
    _show(rows)
    if not all(row.answers for row in rows):
        raise typer.Exit(1)


@app.command()
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete the services' data."),
) -> None:
    """Stop the processes the stack started (and nothing else); with --purge, the demo
    pipeline first and, after the data, what it kept that the data made (its agents' table
    stores, the demo API key: ``deploy.local.pipeline.purge``)."""
    settings = StackSettings()
    if purge and pipeline.stop(settings):
        # Its workers would otherwise write again into what the purge deletes.
        console.print("stopped the demo pipeline (`make up`) first")
    stopped = stack.down(settings, purge=purge)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    if purge:
        for path in pipeline.purge(settings):
            console.print(f"deleted {path} (made for the purged data)")
