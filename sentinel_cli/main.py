"""`sentinel`: the project's command line, one sub-command group per part."""

from __future__ import annotations

import typer

from console.cli import console_app, users_app
from deploy.cli import topics_app
from deploy.local import envfile
from deploy.local.cli import app as stack_app
from deploy.local.pipeline_cli import pipeline_app
from dlq.cli import dlq_app
from fraudsim.cli import register as register_fraudsim
from ingest_api.cli import api_app, keys_app
from ingest_api.labels_cli import import_labels
from ingest_api.rules_cli import rules_app
from ledger_sink.cli import db_app, labels_app, ledger_app, reviews_app, sink_app
from ledger_sink.webhooks.cli import webhooks_app
from reference_store.relay.cli import relay_command
from replay.cli import replay_app
from sentinel_cli.config_reference import docs_app
from stream_agents.merchant_risk.cli import merchant_risk_app
from stream_agents.worker import agents_app

app = typer.Typer(
    help="SentinelStream: real-time card fraud detection on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _configuration() -> None:
    """Every command reads the local deployment's configuration first (deploy.local.envfile),
    so it sees the registry, topics and database the running services see."""
    envfile.load()


app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(docs_app, name="docs")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(db_app, name="db")
app.add_typer(api_app, name="api")
app.add_typer(keys_app, name="keys")
# `rules load|sync` are the API's commands; `rules relay` is the outbox relay's, the one
# writer of the rules topic (reference_store/relay): one group for the user, two owners.
rules_app.command("relay")(relay_command)
app.add_typer(rules_app, name="rules")
app.add_typer(agents_app, name="agents")
app.add_typer(merchant_risk_app, name="merchant-risk")
app.add_typer(sink_app, name="sink")
app.add_typer(ledger_app, name="ledger")
# `labels import` is the API's (it reads the ledger and publishes as POST /v1/labels does);
# `labels sink` the ledger sink's. One group for the user, two owners: parts never import
# each other, so the two meet here.
labels_app.command("import")(import_labels)
app.add_typer(labels_app, name="labels")
app.add_typer(reviews_app, name="reviews")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(dlq_app, name="dlq")
app.add_typer(replay_app, name="replay")
app.add_typer(users_app, name="users")
app.add_typer(console_app, name="console")
register_fraudsim(app)  # simulate, train, models
