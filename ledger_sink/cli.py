"""`sentinel db …` (migrations), `sentinel sink run`, `sentinel labels sink`,
`sentinel reviews sink` and `sentinel ledger verify`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg
import typer
from psycopg.conninfo import conninfo_to_dict
from rich.console import Console
from rich.table import Table

from ledger_sink import heads, labels, logs, migrate, reviews, roles, service
from ledger_sink.errors import KafkaUnavailable, MigrationError
from ledger_sink.heads import SignedHead
from ledger_sink.kafka_io import read_to_end
from ledger_sink.settings import ConsumerSettings, LedgerSigning, SinkSettings
from ledger_sink.verify import Report, verify_ledger
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.kafka_edge import KafkaRefused
from schemas.secrets import refuse_default_secrets

db_app = typer.Typer(
    help="The PostgreSQL schema: ordered migrations in ledger_sink/migrations (alembic).",
    no_args_is_help=True,
)
sink_app = typer.Typer(help="The ledger sink: decisions into PostgreSQL.", no_args_is_help=True)
ledger_app = typer.Typer(help="The hash-chained ledger.", no_args_is_help=True)
labels_app = typer.Typer(
    help="Fraud labels: chargeback files onto the labels topic, the topic into PostgreSQL.",
    no_args_is_help=True,
)
reviews_app = typer.Typer(
    help="Analysts' resolutions: the reviews topic into the ledger.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)
S = TypeVar("S", bound=ConsumerSettings)

REVISION = typer.Option("head", "--revision", "-r", help="Target revision (default: the newest).")


def _dsn() -> str:
    postgres = PostgresConnection()
    refuse_default_secrets(postgres)
    return postgres.dsn.get_secret_value()


def _where(dsn: str) -> str:
    """user@host:port/dbname of `dsn`: never its password."""
    parts = conninfo_to_dict(dsn)
    host = parts.get("host", "localhost")
    return f"{parts.get('user', '?')}@{host}:{parts.get('port', 5432)}/{parts.get('dbname', '?')}"


def _fail(dsn: str, exc: MigrationError) -> typer.Exit:
    errors.print(f"[red]failed[/] on {_where(dsn)}: {exc}", markup=True, highlight=False)
    return typer.Exit(1)


@db_app.command("migrate")
def migrate_command(revision: str = REVISION) -> None:
    """Apply every migration the database lacks, up to --revision; safe to run again."""
    dsn = _dsn()
    try:
        result = migrate.upgrade(dsn, revision)
    except MigrationError as exc:
        raise _fail(dsn, exc) from exc
    if result.changed:
        before = result.before or "(empty)"
        console.print(f"[green]migrated[/] {_where(dsn)}: {before} → {result.after}")
    else:
        console.print(f"[dim]up to date[/] {_where(dsn)} at {result.after}")


@db_app.command("roles")
def roles_command() -> None:
    """Create the services' NOLOGIN groups and the login roles whose DSNs are configured.

    Runs as the superuser (SENTINEL_POSTGRES_ADMIN_DSN); idempotent. Each
    SENTINEL_POSTGRES_<SINK|API|LABELS|WEBHOOKS|READER|CONSOLE|RULES_RELAY>_DSN names a
    login role (its user and password), made a member of that service's group.
    """
    postgres = PostgresConnection()
    refuse_default_secrets(postgres, admin=True)  # the superuser's password, off loopback
    admin = postgres.admin_dsn.get_secret_value()
    try:
        created, logins = roles.provision(admin, roles.RuntimeRoles())
    except (psycopg.Error, ValueError) as exc:
        errors.print(f"[red]failed[/] on {_where(admin)}: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"groups created: {', '.join(created) or '(none missing)'}")
    for login in logins:
        console.print(f"login role [bold]{login.user}[/] in {login.group}")


@db_app.command("current")
def current_command(
    check: bool = typer.Option(False, "--check", help="Exit 1 unless the database is at head."),
) -> None:
    """Show the database's revision next to the newest one this code knows."""
    dsn = _dsn()
    try:
        at = migrate.current(dsn)
    except MigrationError as exc:
        raise _fail(dsn, exc) from exc
    newest = migrate.head()
    status = "[green]up to date[/]" if at == newest else "[yellow]behind[/]"
    table = Table(title="schema")
    for column in ("database", "current", "head", "status"):
        table.add_column(column)
    table.add_row(_where(dsn), at or "(empty)", newest or "-", status)
    console.print(table)
    if check and at != newest:
        raise typer.Exit(1)


@db_app.command("sql")
def sql_command(revision: str = REVISION) -> None:
    """Print the SQL that takes an empty database to --revision, for review; runs nothing."""
    try:
        script = migrate.sql_script(revision)
    except MigrationError as exc:
        errors.print(f"[red]failed[/]: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(script, nl=False)


@db_app.command("revision")
def revision_command(message: str = typer.Argument(..., help="What the migration does.")) -> None:
    """Write a new, empty migration after the newest one, named by the current UTC time."""
    try:
        path = migrate.new_revision(message)
    except MigrationError as exc:
        errors.print(f"[red]failed[/]: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]created[/] {path}")


@sink_app.command("run")
def sink_run_command() -> None:
    """Consume decisions into the ledger until SIGTERM (which finishes the batch first)."""
    _consume(SinkSettings(), service.run)


@labels_app.command("sink")
def labels_sink_command() -> None:
    """Consume fraud labels into the labels table until SIGTERM (idempotent, newest wins)."""
    _consume(labels.LabelsSettings(), labels.run)


@reviews_app.command("sink")
def reviews_sink_command() -> None:
    """Apply resolutions of REVIEW decisions until SIGTERM: the approval's ledger entry, the
    decision.resolved webhook event and the label (one resolution per case)."""
    _consume(reviews.ReviewsSettings(), reviews.run)


def _consume(settings: S, run: Callable[[S, threading.Event], None]) -> None:
    """Run one ledger consumer in the foreground until SIGTERM or SIGINT."""
    refuse_default_secrets(settings.kafka, settings.postgres)
    logs.configure(settings.log_level)
    stopping = threading.Event()
    service.stop_on_signals(stopping)
    try:
        run(settings, stopping)
    except KafkaRefused as exc:
        # Not transient: waiting would only hide it. The supervisor sees the exit.
        errors.print(f"[red]stopped[/]: {exc}", highlight=False)
        raise typer.Exit(3) from exc


def _verify_table(report: Report) -> Table:
    table = Table(title="ledger verification")
    for column in ("accounts", "entries", "signed heads", "result"):
        table.add_column(column)
    result = "[green]every chain holds[/]" if report.broken is None else "[red]BROKEN[/]"
    signed = "[yellow]not checked[/]" if report.signed_heads is None else str(report.signed_heads)
    table.add_row(str(report.accounts), str(report.entries), signed, result)
    return table


def _signed_heads() -> tuple[dict[str, SignedHead], bytes] | None:
    """The newest signed head per account from the heads topic, with the key; None when
    no signing key is configured (then the chains are checked without anchors)."""
    key = LedgerSigning().key()
    if key is None:
        errors.print(
            "[yellow]signed heads not checked[/]: SENTINEL_LEDGER_SIGNING_KEY is unset, so a "
            "tail re-sealed inside the database would go unnoticed",
            highlight=False,
        )
        return None
    kafka = KafkaConnection()
    topic = LedgerSigning().heads_topic(kafka.topic_prefix)
    try:
        return heads.newest(read_to_end(kafka, topic)), key
    except KafkaUnavailable as exc:
        errors.print(f"[red]failed[/] reading the signed heads: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except heads.HeadError as exc:
        errors.print(f"[red]unreadable signed head[/] on {topic}: {exc}", highlight=False)
        raise typer.Exit(1) from exc


@ledger_app.command("verify")
def verify_command() -> None:
    """Walk every account's hash chain (through its signed head, with a signing key); exit 1
    and name the first broken link if one is."""
    dsn = _dsn()
    signed = _signed_heads()
    try:
        with (
            psycopg.connect(dsn) as conn,
            console.status("verifying the ledger…") as status,
        ):
            report = verify_ledger(
                conn, lambda n: status.update(f"verified {n:,} entries…"), signed
            )
    except psycopg.Error as exc:
        errors.print(f"[red]failed[/] on {_where(dsn)}: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    console.print(_verify_table(report))
    if report.broken is not None:
        broken = report.broken
        errors.print(
            f"[red]first broken link[/]: account [bold]{broken.account_id}[/] "
            f"seq [bold]{broken.seq}[/]: {broken.reason}",
            highlight=False,
        )
        raise typer.Exit(1)
