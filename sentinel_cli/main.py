"""`sentinel`: the project's command line, one sub-command group per part.

Each part's commands are imported when they run, not when `sentinel` starts: importing
every part costs ~4 s of CPU (xgboost through replay, pandas, scipy, FastAPI, faust), which
every service start, every `make up` step and every CLI call paid before. `sentinel <group>`
now imports only that group's part; `sentinel --help` still loads them all, to list them.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from deploy.local import envfile

# name -> "module:attribute", in the order `sentinel --help` lists them. The attribute is a
# `typer.Typer` (a group), a function (one command), or one of the builders below.
COMMANDS: dict[str, str] = {
    "import": "fraudsim.importing.cli:import_command",
    "train": "fraudsim.train.cli:train_command",
    "score": "fraudsim.score.cli:score_command",
    "stack": "deploy.local.cli:app",
    "topics": "deploy.cli:topics_app",
    "docs": "sentinel_cli.config_reference:docs_app",
    "pipeline": "deploy.local.pipeline_cli:pipeline_app",
    "db": "ledger_sink.cli:db_app",
    "api": "ingest_api.cli:api_app",
    "keys": "ingest_api.cli:keys_app",
    "rules": "sentinel_cli.main:rules_group",
    "agents": "stream_agents.worker:agents_app",
    "merchant-risk": "stream_agents.merchant_risk.cli:merchant_risk_app",
    "sink": "ledger_sink.cli:sink_app",
    "ledger": "ledger_sink.cli:ledger_app",
    "labels": "sentinel_cli.main:labels_group",
    "reviews": "ledger_sink.cli:reviews_app",
    "webhooks": "ledger_sink.webhooks.cli:webhooks_app",
    "dlq": "dlq.cli:dlq_app",
    "replay": "replay.cli:replay_app",
    "users": "console.cli:users_app",
    "console": "console.cli:console_app",
    "simulate": "fraudsim.simulate.cli:simulate_app",
    "models": "fraudsim.registry_cli:models_app",
}


@functools.cache
def rules_group() -> typer.Typer:
    """`rules load|sync` are the API's commands; `rules relay` is the outbox relay's, the one
    writer of the rules topic (reference_store/relay): one group for the user, two owners."""
    from ingest_api.rules_cli import rules_app
    from reference_store.relay.cli import relay_command

    rules_app.command("relay")(relay_command)
    return rules_app


@functools.cache
def labels_group() -> typer.Typer:
    """`labels import` is the API's (it reads the ledger and publishes as POST /v1/labels does);
    `labels sink` the ledger sink's. Parts never import each other, so the two meet here."""
    from ingest_api.labels_cli import import_labels
    from ledger_sink.cli import labels_app

    labels_app.command("import")(import_labels)
    return labels_app


def _load(name: str) -> Any:
    """The click command behind ``name``, its part imported now."""
    module, _, attribute = COMMANDS[name].partition(":")
    target: Any = getattr(importlib.import_module(module), attribute)
    if target in (rules_group, labels_group):
        target = target()
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False)  # a function: one command, as `app.command` makes
    single.command(name)(target)
    command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: its commands are named up front and loaded on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.commands[cmd_name] = _load(cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=LazyGroup,
    help="SentinelStream: real-time card fraud detection on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _configuration() -> None:
    """Every command reads the local deployment's configuration first (deploy.local.envfile),
    so it sees the registry, topics and database the running services see."""
    envfile.load()
