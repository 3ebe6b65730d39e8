"""`sentinel agents run`: builds the pipeline from settings and runs the faust worker."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import typer
from confluent_kafka.admin import AdminClient
from faust import Worker
from prometheus_client import start_http_server

from schemas.enums import Outcome
from schemas.records import Transaction
from stream_agents.app import create_app
from stream_agents.pipeline import DecisionPipeline, Judgement
from stream_agents.scoring import ModelRegistry
from stream_agents.settings import AgentSettings

agents_app = typer.Typer(help="The stream agents (faust worker).")


class ScoreJudge:
    """The model's score against the review and decline thresholds."""

    def __init__(self, review_at: float, decline_at: float) -> None:
        self.review_at = review_at
        self.decline_at = decline_at

    def __call__(
        self,
        _tx: Transaction,
        _features: Mapping[str, float],
        score: float | None,
        _home_country: str | None,
    ) -> Judgement:
        risk = 0.0 if score is None else score
        if risk >= self.decline_at:
            return Judgement(Outcome.DECLINE, risk)
        if risk >= self.review_at:
            return Judgement(Outcome.REVIEW, risk)
        return Judgement(Outcome.APPROVE, risk)


def build_pipeline(settings: AgentSettings) -> DecisionPipeline:
    return DecisionPipeline(
        models=ModelRegistry(settings.model_registry),
        judge=ScoreJudge(settings.review_at, settings.decline_at),
    )


def changelog_replicas(settings: AgentSettings) -> int:
    """The wanted replica count, capped at the brokers the cluster has."""
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap_servers})
    brokers = len(admin.list_topics(timeout=30).brokers)
    return max(1, min(settings.changelog_replicas, brokers))


@agents_app.command("run")
def run(log_level: str = typer.Option("info", help="faust worker log level")) -> None:
    """Run one agent worker; start more processes to add capacity (no code change)."""
    settings = AgentSettings()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
    app = create_app(settings, build_pipeline(settings), changelog_replicas(settings))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    Worker(app, loglevel=log_level, quiet=True).execute_from_commandline()
