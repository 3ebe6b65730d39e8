"""`sentinel pipeline bootstrap|up|down|status|view`: the whole demo pipeline of `make up`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from console.settings import ConsoleSettings
from deploy.local import demo_analyst, envfile, pipeline
from deploy.local.http_traffic import run as http_traffic_run
from deploy.local.secret_file import replace_private
from deploy.local.settings import StackSettings
from deploy.local.supervisor import ServiceState
from deploy.local.view import LiveView
from ingest_api.settings import ApiSettings

pipeline_app = typer.Typer(help="The demo pipeline: every service supervised, live traffic.")
console = Console()
Rate = Annotated[float, typer.Option(help="Simulated transactions per second.")]


def _registry(settings: StackSettings) -> Path:
    return settings.dir / "models"


def _sentinel(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own console script
        [pipeline.SENTINEL, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        console.print(f"[red]sentinel {' '.join(args)} failed[/]\n{done.stdout}{done.stderr}")
        raise typer.Exit(1)
    return done.stdout


def _sentinel_status(args: Sequence[str]) -> int:
    """`sentinel <args>`'s exit status, its output shown when it failed."""
    done = subprocess.run(  # noqa: S603 - our own console script
        [pipeline.SENTINEL, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        console.print(f"[dim]sentinel {' '.join(args)}: {done.stderr.strip()}[/]", highlight=False)
    return done.returncode


def _demo_analyst(settings: StackSettings) -> None:
    path = demo_analyst.password_file(settings.dir)
    try:
        outcome = demo_analyst.ensure(path, _sentinel_status)
    except demo_analyst.DemoAnalystError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"console user {demo_analyst.USERNAME} {outcome}; password in {path}")


@pipeline_app.command()
def bootstrap() -> None:
    """Seed rules (and every rule and list republished from PostgreSQL), a demo API key, the
    console's demo analyst and, if none is registered, a model trained on simulated data (a
    minute or two the first time), announced as champion unless one is."""
    settings = StackSettings()
    envfile.write(settings)  # what every later command reads (also written by stack up)
    _sentinel("rules", "load")
    # The rules topic from PostgreSQL: `rules load` publishes only the rules it creates, so
    # a fresh cluster beside a kept database (its data lives outside the checkout when run
    # as root) would leave the agents without rules, deciding on the model alone.
    _sentinel("rules", "sync")
    # The file is kept while the database knows its key, as the analyst's password file
    # is: beside a database made anew (a purge, another data directory) a new key replaces it.
    key_file = settings.demo_api_key
    if not key_file.is_file() or _sentinel_status(("keys", "check", "--key-file", str(key_file))):
        out = _sentinel("keys", "create", "--name", "demo", "--scopes", "ingest,read,admin")
        replace_private(key_file, out.split()[-1] + "\n")
    _demo_analyst(settings)
    registry = _registry(settings)
    if not (registry / "CURRENT").exists():
        console.print("training a first model on simulated data ...")
        data = settings.dir / "sim"
        _sentinel(
            "simulate",
            "generate",
            "--out",
            str(data),
            "--customers",
            str(settings.bootstrap_customers),
            "--terminals",
            str(settings.bootstrap_terminals),
            "--days",
            str(settings.bootstrap_days),
        )
        rounds = settings.bootstrap_rounds
        _sentinel(
            "train",
            *("--data", str(data), "--registry", str(registry), "--no-search"),
            *(("--rounds", str(rounds)) if rounds else ()),
        )
    _announce_current(registry)
    console.print(f"demo API key in {key_file}; model registry {registry}")


def _announce_current(registry: Path) -> None:
    """Agents take their champion from the models topic: a registry made current before the
    topic existed (or a fresh cluster beside a kept registry) is announced once here."""
    from fraudsim.announce import announced
    from schemas.connections import KafkaConnection

    if "champion" not in announced(KafkaConnection()):
        current = (registry / "CURRENT").read_text().strip()
        _sentinel("models", "promote", current, "--registry", str(registry))


@pipeline_app.command()
def up(
    rate: Rate = 200.0,
    wait: Annotated[
        bool,
        typer.Option(help="Return once every service stays up and decisions reach the ledger."),
    ] = True,
) -> None:
    """Start every service under a supervisor, with simulated traffic at ``rate``; wait until
    each has stayed up and the first decision is in the ledger, else exit 1 naming it."""
    settings = StackSettings()
    since = datetime.now(UTC)
    pid = pipeline.start(settings, rate, _registry(settings))
    console.print(f"pipeline supervisor running (pid {pid}); logs in {settings.logs}")
    if wait:
        _wait_ready(settings, since)
    api = ApiSettings()
    console.print(
        f"API docs  http://{api.host}:{api.port}/docs   "
        f"metrics  http://{api.host}:{api.port}/metrics"
    )
    ports = [settings.agents_metrics_port + n for n in range(pipeline.AGENT_WORKERS)]
    console.print("agent metrics  " + "  ".join(f"http://127.0.0.1:{p}/metrics" for p in ports))
    console.print(f"API key  {settings.demo_api_key}")
    web = ConsoleSettings()
    console.print(
        f"console  http://{web.host}:{web.port}/console/   sign in as "
        f"{demo_analyst.USERNAME}, password in {demo_analyst.password_file(settings.dir)}"
    )
    console.print("stop everything with: make down")


def _wait_ready(settings: StackSettings, since: datetime) -> None:
    began = time.monotonic()
    ready = pipeline.wait_ready(
        settings,
        since,
        settings.pipeline_ready_timeout_s,
        settings.postgres,
        say=lambda line: console.print(f"[dim]{line}[/]"),
    )
    if ready.ok:
        console.print(
            f"every service up; {ready.decisions} decisions in the ledger after "
            f"{time.monotonic() - began:.0f} s"
        )
        return
    _show(ready.states)
    troubled = ready.not_up()
    for state in troubled:
        console.print(f"\n[red]{state.name}[/] ({state.health(time.time())}), {state.log}:")
        console.print(pipeline.log_tail(state), markup=False, highlight=False)
    if not troubled:
        console.print(
            f"[red]no decision reached the ledger within the wait[/] (logs: {settings.logs})"
        )
    console.print("the pipeline keeps running under its supervisor; `make down` stops it")
    raise typer.Exit(1)


@pipeline_app.command("supervise", hidden=True)
def supervise(rate: Rate = 200.0, registry: Annotated[Path, typer.Option()] = Path()) -> None:
    """Run the supervisor in the foreground (``up`` starts it detached)."""
    pipeline.supervisor(StackSettings(), rate, registry).run()


@pipeline_app.command("http-traffic", hidden=True)
def http_traffic(rate: Rate = 20.0) -> None:
    """Post demo transactions to the API with the demo key (the supervisor runs this)."""
    settings = StackSettings()
    key = settings.demo_api_key.read_text().strip()
    api = ApiSettings()  # where the API listens: the same variables the API reads
    http_traffic_run(f"http://{api.host}:{api.port}", key, rate)


@pipeline_app.command()
def down() -> None:
    """Stop the supervisor and every service it runs."""
    stopped = pipeline.stop(StackSettings())
    console.print("pipeline stopped" if stopped else "pipeline was not running")


@pipeline_app.command()
def status() -> None:
    """Each service: up, starting, failing (restarts, last error, log) or down; exit 1 unless
    every service is up."""
    settings = StackSettings()
    states = pipeline.status(settings)
    if pipeline.supervisor_pidfile(settings).live_pid() is None:
        console.print("pipeline supervisor not running (make up starts it)")
    _show(states)
    now = time.time()
    if not states or any(state.health(now) != "up" for state in states):
        raise typer.Exit(1)


def _show(states: list[ServiceState]) -> None:
    table = Table(title="SentinelStream pipeline")
    for column in ("service", "state", "pid", "restarts", "last error", "log"):
        table.add_column(column)
    now = time.time()
    colour = {"up": "green", "starting": "yellow", "failing": "red", "down": "red"}
    for state in states:
        health = state.health(now)
        table.add_row(
            state.name,
            f"[{colour[health]}]{health}[/]",
            str(state.pid or "-"),
            str(state.restarts),
            state.last_error or "",
            state.log,
        )
    console.print(table)


@pipeline_app.command()
def view(
    seconds: Annotated[float | None, typer.Option(help="Stop after this long.")] = None,
) -> None:
    """Live decisions/s, decision mix, latency, lag per stage, rules fired, latest DECLINEs."""
    try:
        LiveView(StackSettings().kafka).run(seconds)
    except KeyboardInterrupt:
        console.print("view closed; the pipeline keeps running (make down stops it)")
