"""`sentinel train`: fit the model on simulated data and publish it with its model card."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from fraudsim.train.run import Options

console = Console()
Registry = Annotated[
    Path,
    typer.Option(
        envvar="SENTINEL_AGENTS_MODEL_REGISTRY", help="Registry folder the agents follow."
    ),
]


def _point(help_text: str, min: float, max: float | None = None) -> Any:  # noqa: A002
    """An option that changes one hyper-parameter of the default point (no search)."""
    return typer.Option(
        min=min, max=max, help=f"{help_text}; implies --no-search.", show_default=False
    )


def train_command(
    data: Annotated[Path, typer.Option(help="Folder from `sentinel simulate generate`.")] = Path(
        "data/sim"
    ),
    registry: Registry = Path("models"),
    version: Annotated[str | None, typer.Option(help="Artifact version (default: time)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes for features; XGBoost threads.")
    ] = 2,
    search: Annotated[
        bool, typer.Option(help="Choose hyperparameters on validation folds.")
    ] = True,
    rounds: Annotated[int | None, _point("Boosting rounds (trees)", min=1)] = None,
    max_depth: Annotated[int | None, _point("Tree depth", min=1)] = None,
    eta: Annotated[float | None, _point("Learning rate", min=0.001, max=1.0)] = None,
    max_bin: Annotated[int | None, _point("Histogram bins per feature", min=2)] = None,
    merchant_risk: Annotated[
        bool,
        typer.Option(help="Add the merchant-risk features (the hourly job serves them live)."),
    ] = True,
    promote: Annotated[bool, typer.Option(help="Make the new model current.")] = True,
    announce: Annotated[
        bool, typer.Option(help="Announce a current model as champion on the models topic.")
    ] = True,
    review_rate: Annotated[float, typer.Option(min=0.0001, max=0.5)] = 0.01,
    decline_precision: Annotated[float, typer.Option(min=0.01, max=1.0)] = 0.9,
    train_days: Annotated[int, typer.Option(min=1, help="Training window per fold.")] = 7,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Train on the ledger's transactions and labels from this time on "
            "(instead of --data): the live loop's verdicts and chargebacks."
        ),
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="With --since: up to this time (default now).")
    ] = None,
    export_to: Annotated[
        Path | None, typer.Option(help="With --since: keep the exported data set here.")
    ] = None,
) -> None:
    """Features by the stream's own code, prequential validation, a versioned artifact.

    --rounds, --max-depth, --eta and --max-bin train with the validated default point
    (what --no-search uses) changed as given, without the search: a quicker or a tuned run.
    """
    from fraudsim.train.folds import Protocol
    from fraudsim.train.model import DEFAULT
    from fraudsim.train.run import Options

    # The options given change the default point (DEFAULT, what --no-search trains with).
    given = {"rounds": rounds, "max_depth": max_depth, "eta": eta, "max_bin": max_bin}
    changes: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    params = dataclasses.replace(DEFAULT, **changes) if changes else None
    options = Options(
        data,
        registry,
        workers=workers,
        protocol=Protocol(train_days=train_days),
        search=search,
        params=params,
        merchant_risk=merchant_risk,
        promote=promote,
        review_rate=review_rate,
        decline_precision=decline_precision,
    )
    if version:
        options = dataclasses.replace(options, version=version)
    with ExitStack() as stack:
        if since is not None:
            where = export_to or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            options = dataclasses.replace(options, data=_export(since, until, where))
        _train(options, announce)


def _export(since: datetime, until: datetime | None, directory: Path) -> Path:
    from fraudsim.ledger_data import export
    from fraudsim.tables import utc
    from schemas.connections import PostgresConnection

    start, end = utc(since), utc(until or datetime.now(UTC))
    dsn = PostgresConnection().dsn.get_secret_value()
    try:
        done = export(dsn, start, end, directory)
    except ValueError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"ledger {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC: {done.transactions:,} "
        f"transactions, {done.frauds:,} fraud labels, in {directory}"
    )
    return directory


def _train(options: Options, announce: bool) -> None:
    from rich.progress import Progress

    from fraudsim.registry import RegistryError
    from fraudsim.tables import LABELS_FILE, TRANSACTIONS_FILE
    from fraudsim.train import report
    from fraudsim.train.run import train

    data = options.data
    missing = [f for f in (TRANSACTIONS_FILE, LABELS_FILE) if not (data / f).is_file()]
    if missing:
        console.print(f"[red]{data} lacks {', '.join(missing)}: run `sentinel simulate generate`")
        raise typer.Exit(1)
    began = time.perf_counter()
    try:
        with Progress(console=console) as progress:
            result = train(options, progress)
    except RegistryError as exc:  # the version exists: refused before any training
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    report.show(console, result.card, result.directory, result.promoted)
    console.print(f"wall time {time.perf_counter() - began:.1f} s")
    if result.promoted and announce:
        _announce_champion(options.version)


def _announce_champion(version: str) -> None:
    """Put the new current model live: running agents follow the models topic, not CURRENT."""
    from fraudsim.announce import AnnounceError, announce
    from schemas.connections import KafkaConnection

    try:
        announce(KafkaConnection(), "champion", version)
    except AnnounceError as exc:
        console.print(
            f"[red]{version} is current in the registry folder but not announced ({exc}); "
            f"once Kafka answers: sentinel models promote {version}"
        )
        raise typer.Exit(1) from exc
    console.print(f"{version} announced as champion: running agents swap it in")
