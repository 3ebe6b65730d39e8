"""`sentinel users create|list|disable` and `sentinel console run`."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import psycopg
import typer
from psycopg import AsyncConnection
from rich.console import Console
from rich.table import Table

from console import audit, passwords, users
from console.roles import Role
from console.settings import ConsoleSettings
from schemas.connections import PostgresConnection
from schemas.secrets import refuse_default_secrets

T = TypeVar("T")
# `users create`'s exit status when the name is taken: scripts (make up's demo analyst) tell
# it from a refusal (1) or a database error (2).
EXIT_USER_EXISTS = 3
# Longer than any request but a stream: a resolution waits 5 s for the reviews sink.
SHUTDOWN_GRACE_S = 8
users_app = typer.Typer(help="Analyst console users: create, list, disable.", no_args_is_help=True)
console_app = typer.Typer(help="The analyst console (a web service).", no_args_is_help=True)
out = Console()
errors = Console(stderr=True)


def cli_actor() -> str:
    """The audit's actor for a change made from the command line: the OS account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "cli"


def _with_db(action: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def run() -> T:
        postgres = PostgresConnection()
        refuse_default_secrets(postgres)
        async with await AsyncConnection.connect(
            postgres.dsn.get_secret_value(), autocommit=True
        ) as conn:
            return await action(conn)

    try:
        return asyncio.run(run())
    except psycopg.Error as exc:
        errors.print(f"[red]database error[/]: {exc}", highlight=False)
        raise typer.Exit(2) from exc


def read_password(source: str) -> str:
    """The password in a file, or on stdin for '-': its first line, without the line break.
    Never an argument: a command line is visible in ps and kept in shell history."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.print(f"[red]cannot read the password[/]: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    lines = text.splitlines()
    return lines[0] if lines else ""


@users_app.command("create")
def create_command(
    username: Annotated[str, typer.Argument(help="2-63 characters: a-z 0-9 . _ -")],
    role: Annotated[Role, typer.Option("--role", help="viewer, analyst or admin.")],
    password_file: str = typer.Option(
        "-", "--password-file", help="Read the password from this file, or stdin ('-')."
    ),
) -> None:
    """Add a console user with a password (12+ characters) read from stdin or a file."""
    try:
        hashed = passwords.hash_password(read_password(password_file))
    except passwords.WeakPassword as exc:
        errors.print(f"[red]refused[/]: {exc}", highlight=False)
        raise typer.Exit(1) from exc

    async def create(conn: AsyncConnection) -> users.User:
        async with conn.transaction():
            user = await users.create(conn, username, role, hashed)
            await audit.record(conn, cli_actor(), audit.USER_CREATED, username, {"role": role})
        return user

    try:
        user = _with_db(create)
    except users.InvalidUser as exc:
        errors.print(f"[red]refused[/]: {exc}", highlight=False)
        raise typer.Exit(EXIT_USER_EXISTS if isinstance(exc, users.UserExists) else 1) from exc
    out.print(f"[green]created[/] {user.username} ({user.role})", highlight=False)


@users_app.command("password")
def password_command(
    username: Annotated[str, typer.Argument(help="The user whose password to set.")],
    password_file: str = typer.Option(
        "-", "--password-file", help="Read the password from this file, or stdin ('-')."
    ),
) -> None:
    """Set a user's password (12+ characters) from stdin or a file; audited. Their open
    sessions go on: disable the user to end those."""
    try:
        hashed = passwords.hash_password(read_password(password_file))
    except passwords.WeakPassword as exc:
        errors.print(f"[red]refused[/]: {exc}", highlight=False)
        raise typer.Exit(1) from exc

    async def set_password(conn: AsyncConnection) -> bool:
        return await users.set_password_hash(conn, username, hashed)

    _change_user(username, set_password, audit.USER_PASSWORD_SET)
    out.print(f"[green]password set[/] for {username}", highlight=False)


@users_app.command("list")
def list_command() -> None:
    """Every console user (never a hash)."""
    table = Table(title="console users")
    for column in ("user", "role", "disabled", "created"):
        table.add_column(column)
    for user in _with_db(users.list_all):
        disabled = "[yellow]yes[/]" if user.disabled else "no"
        table.add_row(
            user.username, user.role, disabled, user.created_at.isoformat(timespec="seconds")
        )
    out.print(table)


@users_app.command("disable")
def disable_command(username: str = typer.Argument(..., help="The user to disable.")) -> None:
    """Disable a user: no more sign-ins, and their open sessions end at their next request."""

    async def disable(conn: AsyncConnection) -> bool:
        return await users.disable(conn, username)

    _change_user(username, disable, audit.USER_DISABLED)
    out.print(f"[yellow]disabled[/] {username}", highlight=False)


def _change_user(
    username: str, change: Callable[[AsyncConnection], Awaitable[bool]], action: str
) -> None:
    """`change` an existing user and audit it as `action` in one transaction; exit 1 when
    there is no such user."""

    async def audited(conn: AsyncConnection) -> bool:
        async with conn.transaction():
            done = await change(conn)
            if done:
                await audit.record(conn, cli_actor(), action, username)
        return done

    if not _with_db(audited):
        errors.print(f"[red]no user[/] {username}", highlight=False)
        raise typer.Exit(1)


@console_app.command("run")
def run_command() -> None:
    """Serve the console on SENTINEL_CONSOLE_HOST:PORT (default 127.0.0.1:8100)."""
    import uvicorn

    from console.app import create_app

    settings = ConsoleSettings()
    settings.refuse_default_secrets()
    out.print(f"console: http://{settings.host}:{settings.port}/console/", highlight=False)
    # No access log: a URL may carry what an analyst typed into the search box, a card
    # number included (the page refuses it, the log would keep it). Actions are audited.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        # An open Overview's stream never ends by itself: on shutdown it is cancelled after
        # this long (the browser reconnects to the next console), not waited for forever.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
