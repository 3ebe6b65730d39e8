"""`sentinel models list|promote`: the registry the agents follow, from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

models_app = typer.Typer(help="Model registry: list versions, promote one (agents hot-swap).")
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


@models_app.command("promote")
def promote_model(
    version: Annotated[str, typer.Argument(help="The version to make current.")],
    registry: Registry = Path("models"),
    force: Annotated[
        bool, typer.Option("--force", help="Promote even a model the agent cannot feed fully.")
    ] = False,
) -> None:
    """Point CURRENT at VERSION; running agents pick it up within their check interval."""
    from fraudsim.registry import RegistryError, promote

    try:
        model = promote(registry, version, force)
    except RegistryError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc
    console.print(f"{model.version} is current in {registry} ({len(model.feature_names)} features)")
