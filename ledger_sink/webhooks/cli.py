"""`sentinel webhooks subscribe|list|disable|run`: subscriptions and the dispatcher."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import psycopg
import typer
from psycopg import AsyncConnection
from rich.console import Console
from rich.table import Table

from ledger_sink import logs
from ledger_sink.errors import InvalidSubscription
from ledger_sink.webhooks import service, subscriptions
from ledger_sink.webhooks.settings import WebhookSettings
from schemas.connections import PostgresConnection
from schemas.kafka_edge import KafkaRefused
from schemas.secrets import refuse_default_secrets
from schemas.webhook_targets import WebhookTargetPolicy, redact

T = TypeVar("T")
webhooks_app = typer.Typer(
    help="Webhook subscriptions and the dispatcher that delivers to them.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)


def _with_db(action: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def run() -> T:
        postgres = PostgresConnection()
        refuse_default_secrets(postgres)
        dsn = postgres.dsn.get_secret_value()
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await action(conn)

    try:
        return asyncio.run(run())
    except psycopg.Error as exc:
        errors.print(f"[red]database error[/]: {exc}", highlight=False)
        raise typer.Exit(2) from exc


@webhooks_app.command("subscribe")
def subscribe_command(
    url: str = typer.Option(..., "--url", help="Where to POST events (https)."),
    event_types: str = typer.Option(
        ..., "--event-types", help="Comma-separated: decision.declined, decision.*, or *."
    ),
    secret_file: str | None = typer.Option(
        None,
        "--secret-file",
        help="Read the signing secret (16+ characters) from this file, or from stdin with"
        " '-'; generated (and shown once) when omitted.",
    ),
    secret: str | None = typer.Option(None, "--secret", hidden=True),
) -> None:
    """Add an active subscription; prints its id (and the secret when generated)."""
    if secret is not None:
        # A command line is visible to every user of the machine (ps, /proc) and kept in
        # shell history: refused rather than silently accepted.
        errors.print(
            "[red]--secret is no longer accepted[/]: a secret on the command line is visible"
            " in ps and shell history. Use --secret-file FILE, or --secret-file - to read it"
            " from stdin.",
            highlight=False,
        )
        raise typer.Exit(2)
    given = _read_secret(secret_file) if secret_file is not None else None
    types = [t.strip() for t in event_types.split(",") if t.strip()]
    try:
        created = _with_db(
            lambda conn: subscriptions.create(conn, url, types, given, policy=WebhookTargetPolicy())
        )
    except InvalidSubscription as exc:
        errors.print(f"[red]refused[/]: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"[green]subscribed[/] {created.subscription_id} → {redact(created.url)}")
    if given is None:
        # Shown once: the receiver needs it to check signatures.
        console.print(f"secret: {created.secret}", highlight=False)


def _read_secret(source: str) -> str:
    """The secret in a file, or on stdin for '-': its first line, without the line break."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.print(f"[red]cannot read the secret[/]: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    lines = text.splitlines()
    secret = lines[0].strip() if lines else ""
    if not secret:
        # Not "generate one": whoever pointed at a file meant to choose the secret.
        errors.print("[red]refused[/]: the secret file (or stdin) is empty", highlight=False)
        raise typer.Exit(1)
    return secret


@webhooks_app.command("list")
def list_command() -> None:
    """Every subscription (secrets are never shown)."""
    found = _with_db(subscriptions.list_all)
    table = Table(title="webhook subscriptions")
    for column in ("id", "url", "event types", "active", "created"):
        table.add_column(column)
    for sub in found:
        active = "[green]yes[/]" if sub.active else "[dim]no[/]"
        table.add_row(
            sub.subscription_id,
            redact(sub.url),
            ", ".join(sub.event_types),
            active,
            sub.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@webhooks_app.command("disable")
def disable_command(
    subscription_id: str = typer.Argument(..., help="The subscription's id."),
) -> None:
    """Stop delivering to a subscription (pending retries to it are dropped)."""
    if not _with_db(lambda conn: subscriptions.disable(conn, subscription_id)):
        errors.print(f"[red]no subscription[/] {subscription_id}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[yellow]disabled[/] {subscription_id}")


@webhooks_app.command("run")
def run_command() -> None:
    """Deliver webhook events until SIGTERM (in-flight deliveries get a grace period)."""
    settings = WebhookSettings()
    refuse_default_secrets(settings.kafka, settings.postgres)
    logs.configure(settings.log_level)
    try:
        service.main(settings)
    except KafkaRefused as exc:
        errors.print(f"[red]stopped[/]: {exc}", highlight=False)
        raise typer.Exit(3) from exc
