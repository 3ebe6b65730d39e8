"""`sentinel models list|promote|challenge|announced`: the registry and the models topic the
agents follow, from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from datetime import datetime

    from decision_core.scoring import Model
    from fraudsim.live_compare import Comparison
    from rule_engine import Thresholds

models_app = typer.Typer(
    help="Model registry: list versions, promote a champion, set a challenger (agents hot-swap)."
)
console = Console()
Registry = Annotated[
    Path,
    typer.Option(
        envvar="SENTINEL_AGENTS_MODEL_REGISTRY", help="Registry folder the agents follow."
    ),
]


def _metric(card: dict[str, Any], key: str) -> str:
    try:
        m = card["validation"]["test_metrics"][key]
    except KeyError:
        return "-"
    return f"{m['mean']:.3f}"


@models_app.command("list")
def list_models(registry: Registry = Path("models")) -> None:
    """Every version with its mean test-fold metrics; the current one is marked."""
    from fraudsim.registry import entries

    table = Table(title=f"models in {registry}")
    for column in ("", "version", "created", "AUC ROC", "AP", "CP@100", "features", "live"):
        table.add_column(column)
    for entry in entries(registry):
        card = entry.card
        table.add_row(
            "[bold green]*" if entry.current else "", entry.version,
            str(card.get("created_at", "-"))[:16], _metric(card, "auc_roc"),
            _metric(card, "average_precision"), _metric(card, "card_precision_at_100"),
            str(len(card.get("feature_names", ()))), "yes" if entry.live_ready else "[yellow]no",
        )  # fmt: skip
    console.print(table)


Force = Annotated[
    bool,
    typer.Option("--force", help="Announce even a model the live agent cannot feed fully."),
]


def _thresholds(model: Model) -> str:
    from decision_core.thresholds import card_thresholds

    chosen = card_thresholds(model.card)
    if chosen is None:
        return "no thresholds in its card: the agents' defaults apply"
    return f"card thresholds review {chosen.review_at:.4g}, decline {chosen.decline_at:.4g}"


def _refused(exc: Exception) -> typer.Exit:
    console.print(f"[red]{exc}")
    return typer.Exit(1)


@models_app.command("promote")
def promote_model(
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    registry: Registry = Path("models"),
    force: Force = False,
) -> None:
    """Announce VERSION as champion on the models topic (running agents swap it in) and point
    CURRENT at it; a challenger of the same version stops shadowing."""
    from fraudsim.announce import AnnounceError
    from fraudsim.promotion import promote
    from fraudsim.registry import RegistryError
    from schemas.connections import KafkaConnection

    try:
        done = promote(KafkaConnection(), registry, version, force)
    except (RegistryError, AnnounceError) as exc:
        raise _refused(exc) from exc
    model = done.model
    console.print(
        f"{version} is champion ({len(model.feature_names)} features; {_thresholds(model)})"
    )
    for warning in done.warnings:
        console.print(f"[yellow]{warning}")
    if done.challenger_cleared:
        console.print(f"{version} no longer shadows as challenger")


@models_app.command("challenge")
def challenge_model(
    version: Annotated[
        str | None, typer.Argument(help="The version to score in shadow beside the champion.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Stop shadow scoring.")] = False,
    registry: Registry = Path("models"),
    force: Force = False,
) -> None:
    """Announce VERSION as challenger: agents score every batch with it too and record its
    score in each decision, never letting it decide. ``--clear`` removes the challenger."""
    from fraudsim.announce import AnnounceError
    from fraudsim.promotion import challenge
    from fraudsim.registry import RegistryError
    from schemas.connections import KafkaConnection

    if clear == (version is not None):
        console.print("[red]give a VERSION or --clear")
        raise typer.Exit(2)
    try:
        challenge(KafkaConnection(), registry, version, force)
    except (RegistryError, AnnounceError) as exc:
        raise _refused(exc) from exc
    if version is None:
        console.print("no challenger: agents score with the champion only")
    else:
        console.print(f"{version} is challenger (scored in shadow, recorded, never deciding)")


@models_app.command("announced")
def announced_models() -> None:
    """The champion and challenger announced on the models topic (what running agents use)."""
    from fraudsim.announce import AnnounceError, announced
    from schemas.connections import KafkaConnection

    try:
        roles = announced(KafkaConnection())
    except AnnounceError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    table = Table(title="announced models")
    for column in ("role", "version", "announced at", "by", "forced"):
        table.add_column(column)
    for role in ("champion", "challenger"):
        a = roles.get(role)
        if a is None:
            table.add_row(role, "[dim]none", "", "", "")
        else:
            at = a.announced_at.isoformat(timespec="seconds")
            table.add_row(role, a.version, at, a.announced_by, "yes" if a.forced else "")
    console.print(table)


@models_app.command("compare")
def compare_models(
    registry: Registry = Path("models"),
    hours: Annotated[float, typer.Option(min=0.01, help="Transaction time looked back.")] = 24.0,
    champion: Annotated[
        str | None, typer.Option(help="Version whose card's thresholds apply (default CURRENT).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Champion against challenger on live traffic: flag, decline, precision and recall
    against the ledger's labels, both at the champion card's thresholds."""
    import asyncio
    import json
    from datetime import UTC, datetime, timedelta

    from decision_core.thresholds import DEFAULT_THRESHOLDS, card_thresholds
    from fraudsim.registry import current_version, entries

    version = champion or current_version(registry)
    card = next((e.card for e in entries(registry) if e.version == version), None)
    thresholds = card_thresholds(card) or DEFAULT_THRESHOLDS
    until = datetime.now(UTC)
    found = asyncio.run(_comparisons(until - timedelta(hours=hours), until, thresholds))
    if as_json:
        at = {"review_at": thresholds.review_at, "decline_at": thresholds.decline_at}
        pairs = [c.summary() for c in found]
        typer.echo(json.dumps({**at, "hours": hours, "pairs": pairs}, indent=2))
        return
    console.print(
        f"thresholds of {version or 'the default'}: review at {thresholds.review_at:.4f}, "
        f"decline at {thresholds.decline_at:.4f}; the last {hours:g} h of transaction time"
    )
    if not found:
        console.print("no decision of that window was scored by a challenger")
    for c in found:
        console.print(_comparison_table(c))


async def _comparisons(
    since: datetime, until: datetime, thresholds: Thresholds
) -> list[Comparison]:
    from psycopg import AsyncConnection

    from fraudsim.live_compare import comparisons
    from schemas.connections import PostgresConnection

    dsn = PostgresConnection().dsn.get_secret_value()
    async with await AsyncConnection.connect(dsn) as conn:
        return await comparisons(conn, since, until, thresholds.review_at, thresholds.decline_at)


def _comparison_table(c: Comparison) -> Table:
    table = Table(
        title=f"{c.champion or 'rules only'} (champion) vs {c.challenger} (challenger): "
        f"{c.decisions} decisions, {c.labelled} labelled, {c.frauds} fraud"
    )
    for column in ("", "mean score", "review rate", "decline rate", "precision", "recall"):
        table.add_column(column, justify="right")
    for side, figures in c.figures().items():
        cells = [figures[k] for k in ("review_rate", "decline_rate", "precision", "recall")]
        table.add_row(
            side, f"{figures['mean_score']:.4f}", *("-" if v is None else f"{v:.1%}" for v in cells)
        )
    return table
