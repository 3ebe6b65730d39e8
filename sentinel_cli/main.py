"""`sentinel`: the project's command line, one sub-command group per part."""

from __future__ import annotations

import typer

from deploy.cli import topics_app
from deploy.local.cli import app as stack_app

app = typer.Typer(
    help="SentinelStream: real-time card fraud detection on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
