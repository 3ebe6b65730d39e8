"""`sentinel api serve|openapi` and `sentinel keys create|revoke|list`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import psycopg
import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from ingest_api.app import create_app
from ingest_api.keys import ApiKey, Scope, create_key, find_by_secret, list_keys, revoke_key
from ingest_api.settings import ApiSettings
from schemas.secrets import refuse_default_secrets

api_app = typer.Typer(help="The HTTP ingest API.")
keys_app = typer.Typer(help="API keys (stored hashed; a new key is shown once).")
console = Console()
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@api_app.command()
def serve(
    workers: int = typer.Option(None, help="Worker processes (default from settings)."),
) -> None:
    """Run the API with uvicorn (uvloop, httptools) on SENTINEL_API_HOST:PORT."""
    settings = ApiSettings()
    settings.refuse_default_secrets()  # before binding; Runtime.open checks it again per worker
    uvicorn.run(
        "ingest_api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers or settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def openapi_document() -> str:
    """The OpenAPI document the app serves, as committed (sorted keys, 2-space indent)."""
    # Everything exposed, whatever this machine's settings say: the contract is one document.
    settings = ApiSettings(expose_docs=True, expose_metrics=True)
    document = create_app(settings, with_runtime=False).openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@api_app.command()
def openapi(
    check: bool = typer.Option(False, "--check", help="Exit 1 if the committed file differs."),
) -> None:
    """Write the OpenAPI document to ingest_api/openapi.json (or check it is current)."""
    document = openapi_document()
    if check:
        if OPENAPI_PATH.read_text() != document:
            console.print(f"[red]{OPENAPI_PATH} is stale:[/] run `sentinel api openapi`")
            raise typer.Exit(1)
        console.print("openapi.json is current")
        return
    OPENAPI_PATH.write_text(document)
    console.print(f"wrote {OPENAPI_PATH}")


async def _connect(settings: ApiSettings) -> psycopg.AsyncConnection:
    # Keys are hashed with the pepper: a key made with the default one is a guessable key.
    refuse_default_secrets(settings.postgres, secrets=[settings.pepper_secret()])
    dsn = settings.postgres.dsn.get_secret_value()
    return await psycopg.AsyncConnection.connect(dsn, autocommit=True)


@keys_app.command("create")
def create(
    name: str = typer.Option(..., help="Who or what the key is for."),
    scopes: str = typer.Option("ingest,read", help="Comma-separated: ingest, read, admin, labels."),
    rate: int = typer.Option(None, help="Sustained requests per second (default: settings)."),
    burst: int = typer.Option(None, help="Requests allowed in any one second."),
    expires_in_days: float = typer.Option(
        None, min=0.001, help="Refuse the key after this many days (default: never)."
    ),
) -> None:
    """Create a key and print it once; only its hash is stored."""
    wanted = {Scope(s.strip()) for s in scopes.split(",") if s.strip()}
    settings = ApiSettings()
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def run() -> tuple[ApiKey, str]:
        async with await _connect(settings) as conn:
            pepper = settings.api_key_pepper.get_secret_value()
            return await create_key(conn, name, wanted, pepper, rate, burst, expires_at)

    key, secret = asyncio.run(run())
    console.print(f"key id {key.key_id}, scopes {', '.join(sorted(key.scopes))}")
    console.print("The key, shown only now:")
    console.print(secret, soft_wrap=True, highlight=False)


@keys_app.command("check")
def check(
    key_file: Annotated[Path, typer.Option(help="A file holding the key.")],
) -> None:
    """Exit 0 if the key in ``key_file`` may be used now (known to this database, neither
    revoked nor expired), else 1 with the reason."""
    settings = ApiSettings()
    secret = key_file.read_text().strip()

    async def run() -> ApiKey | None:
        async with await _connect(settings) as conn:
            return await find_by_secret(conn, secret, settings.api_key_pepper.get_secret_value())

    key = asyncio.run(run())
    if key is None:
        console.print("[red]unknown API key[/]")
        raise typer.Exit(1)
    if (refusal := key.refusal(datetime.now(UTC))) is not None:
        console.print(f"[red]{refusal}[/]")
        raise typer.Exit(1)
    console.print(f"key id {key.key_id} may be used")


@keys_app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key (takes effect within the API's key cache time)."""

    async def run() -> bool:
        async with await _connect(ApiSettings()) as conn:
            return await revoke_key(conn, key_id)

    if not asyncio.run(run()):
        console.print(f"[red]no active key {key_id}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@keys_app.command("list")
def list_() -> None:
    """List keys: id, name, prefix, scopes, limits, created, expires, last used, revoked."""

    async def run() -> list[ApiKey]:
        async with await _connect(ApiSettings()) as conn:
            return await list_keys(conn)

    table = Table(title="API keys")
    table.add_column("key id", no_wrap=True)
    columns = ("name", "prefix", "scopes", "rate/s", "burst", "created", "expires", "last used")
    for column in (*columns, "revoked"):
        table.add_column(column)
    for key in asyncio.run(run()):
        table.add_row(
            key.key_id,
            key.name,
            key.key_prefix,
            ",".join(sorted(key.scopes)),
            str(key.rate_limit_per_second or "-"),
            str(key.burst or "-"),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)
