"""`sentinel topics apply|list`: provision the declared Kafka topics."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from deploy.topics import TopicAdmin, apply
from schemas.connections import KafkaConnection
from schemas.topics import declared_topics

topics_app = typer.Typer(help="Kafka topics as code (declared in schemas/topics.py).")
console = Console()
STYLE = {"created": "green", "ok": "dim", "drift": "yellow"}


@topics_app.command("apply")
def apply_topics(
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any topic has drifted."),
) -> None:
    """Create missing topics and report drift (wrong partitions or config); deletes nothing."""
    kafka = KafkaConnection()
    reports = apply(TopicAdmin(kafka), declared_topics(kafka.topic_prefix))
    table = Table(title=f"topics on {kafka.bootstrap_servers}")
    for column in ("topic", "status", "drift"):
        table.add_column(column)
    for report in reports:
        table.add_row(
            report.name, f"[{STYLE[report.status]}]{report.status}[/]", "; ".join(report.drift)
        )
    console.print(table)
    if strict and any(report.status == "drift" for report in reports):
        raise typer.Exit(1)
