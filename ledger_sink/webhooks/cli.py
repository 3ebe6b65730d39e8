"""`sentinel webhooks subscribe|list|disable|run`: subscriptions and the dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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
        dsn = PostgresConnection().dsn.get_secret_value()
        async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
            return await action(conn)

    try:
        return asyncio.run(run())
    except psycopg.Error as exc:
        errors.print(f"[red]database error[/]: {exc}", highlight=False)
        raise typer.Exit(2) from exc


@webhooks_app.command("subscribe")
def subscribe_command(
    url: str = typer.Option(..., "--url", help="Where to POST events (http or https)."),
    event_types: str = typer.Option(
        ..., "--event-types", help="Comma-separated: decision.declined, decision.*, or *."
    ),
    secret: str | None = typer.Option(
        None, "--secret", help="Signing secret (16+ characters); generated when omitted."
    ),
) -> None:
    """Add an active subscription; prints its id (and the secret when generated)."""
    types = [t.strip() for t in event_types.split(",") if t.strip()]
    try:
        created = _with_db(
            lambda conn: subscriptions.create(
                conn, url, types, secret, policy=WebhookTargetPolicy()
            )
        )
    except InvalidSubscription as exc:
        errors.print(f"[red]refused[/]: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"[green]subscribed[/] {created.subscription_id} → {redact(created.url)}")
    if secret is None:
        # Shown once: the receiver needs it to check signatures.
        console.print(f"secret: {created.secret}", highlight=False)


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
    logs.configure(settings.log_level)
    service.main(settings)
