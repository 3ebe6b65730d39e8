"""`sentinel pipeline bootstrap|up|down|status|view`: the whole demo pipeline of `make up`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deploy.local import pipeline
from deploy.local.http_traffic import run as http_traffic_run
from deploy.local.settings import StackSettings
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


@pipeline_app.command()
def bootstrap() -> None:
    """Seed rules, a demo API key and, if none is registered, a model trained on simulated
    data (a few minutes the first time), announced as champion unless one is."""
    settings = StackSettings()
    _sentinel("rules", "load")
    key_file = settings.dir / "demo" / "api-key"
    if not key_file.exists():
        out = _sentinel("keys", "create", "--name", "demo", "--scopes", "ingest,read,admin")
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(out.split()[-1] + "\n")
        key_file.chmod(0o600)
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
            "2000",
            "--terminals",
            "4000",
            "--days",
            "70",
        )
        _sentinel("train", "--data", str(data), "--registry", str(registry), "--no-search")
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
def up(rate: Rate = 200.0) -> None:
    """Start every service under a supervisor, with simulated traffic at ``rate``."""
    settings = StackSettings()
    pid = pipeline.start(settings, rate, _registry(settings))
    console.print(f"pipeline supervisor running (pid {pid}); logs in {settings.logs}")
    console.print("API docs  http://127.0.0.1:8000/docs   metrics  http://127.0.0.1:8000/metrics")
    console.print("agent metrics  http://127.0.0.1:9101/metrics  http://127.0.0.1:9102/metrics")
    console.print("stop everything with: make down")


@pipeline_app.command("supervise", hidden=True)
def supervise(rate: Rate = 200.0, registry: Annotated[Path, typer.Option()] = Path()) -> None:
    """Run the supervisor in the foreground (``up`` starts it detached)."""
    settings = StackSettings()
    pipeline.Supervisor(settings, pipeline.demo_services(settings, rate, registry)).run()


@pipeline_app.command("http-traffic", hidden=True)
def http_traffic(rate: Rate = 20.0) -> None:
    """Post demo transactions to the API with the demo key (the supervisor runs this)."""
    settings = StackSettings()
    key = (settings.dir / "demo" / "api-key").read_text().strip()
    api = ApiSettings()  # where the API listens: the same variables the API reads
    http_traffic_run(f"http://{api.host}:{api.port}", key, rate)


@pipeline_app.command()
def down() -> None:
    """Stop the supervisor and every service it runs."""
    stopped = pipeline.stop(StackSettings())
    console.print("pipeline stopped" if stopped else "pipeline was not running")


@pipeline_app.command()
def status() -> None:
    """Each service and its pid."""
    for name, pid in pipeline.status(StackSettings()).items():
        console.print(f"{name:12} {'running, pid ' + str(pid) if pid else '[red]not running[/]'}")


@pipeline_app.command()
def view(
    seconds: Annotated[float | None, typer.Option(help="Stop after this long.")] = None,
) -> None:
    """Live decisions/s, decision mix, latency, lag per stage, rules fired, latest DECLINEs."""
    try:
        LiveView(StackSettings().kafka).run(seconds)
    except KeyboardInterrupt:
        console.print("view closed; the pipeline keeps running (make down stops it)")
