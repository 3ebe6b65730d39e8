"""`sentinel agents run`: builds the pipeline from settings and runs the faust worker."""

from __future__ import annotations

import logging

import typer
from confluent_kafka.admin import ClusterMetadata
from faust import Worker
from prometheus_client import start_http_server

from decision_core.collector import tune_for_deciding
from decision_core.judge import RulesJudge
from decision_core.live_models import CHAMPION, ModelBook
from decision_core.pipeline import DecisionPipeline
from decision_core.reference import ReferenceData
from decision_core.thresholds import ThresholdOverrides, select_thresholds
from rule_engine import BreakerConfig, DeclineBreaker
from schemas import kafka_edge
from schemas.follower import TopicFollower
from schemas.secrets import refuse_default_secrets
from schemas.topics import DECISION_REPLIES
from stream_agents.app import create_app, output_topics
from stream_agents.datadir import ClaimedDir, DataDirInUse, bind_to_cluster, claim
from stream_agents.followers import model_follower, reference_follower
from stream_agents.metrics import MetricsObserver, watch_gc
from stream_agents.output import BatchPublisher
from stream_agents.settings import AgentSettings
from stream_agents.txid_claims import TransactionIdClaims

agents_app = typer.Typer(help="The stream agents (faust worker).")
log = logging.getLogger("stream_agents")
# The decision code's reports (rule failures, model swaps...) as this worker's metrics.
OBSERVER = MetricsObserver()


# A group on its own too, as `python -m stream_agents run` (stream_agents.__main__).
@agents_app.callback()
def _group() -> None:
    """The stream agents (faust worker)."""


def build_models(settings: AgentSettings) -> ModelBook:
    overrides = ThresholdOverrides(settings.review_at, settings.decline_at)
    return ModelBook(settings.model_registry, overrides, observer=OBSERVER)


def build_pipeline(
    settings: AgentSettings, reference: ReferenceData, models: ModelBook, reply_partitions: int = 0
) -> DecisionPipeline:
    """``reply_partitions``: the ``decision-replies`` topic's (0: no replies)."""
    breaker = DeclineBreaker(
        BreakerConfig(
            max_share=settings.breaker_max_share,
            min_volume=settings.breaker_min_volume,
            window_events=settings.breaker_window_events,
        )
    )
    # The champion's thresholds reach the judge with each batch; these apply without one.
    defaults, _source = select_thresholds(None, models.overrides)
    judge = RulesJudge(reference, defaults, breaker, observer=OBSERVER)
    return DecisionPipeline(
        models,
        judge,
        reference.profile,
        merchants=reference.merchant_risk,
        observer=OBSERVER,
        reply_partitions=reply_partitions,
    )


def reply_partitions(settings: AgentSettings, cluster: ClusterMetadata) -> int:
    """The ``decision-replies`` topic's partition count; 0, with a warning, when the cluster
    lacks it (topics not applied since it was added: authorize calls then fall back)."""
    topic = cluster.topics.get(f"{settings.kafka.topic_prefix}{DECISION_REPLIES.name}")
    if topic is None or topic.error is not None or not topic.partitions:
        log.warning(
            "no %s topic: awaited decisions get no reply (run `sentinel topics apply`)",
            DECISION_REPLIES.name,
        )
        return 0
    return len(topic.partitions)


def changelog_replicas(settings: AgentSettings, cluster: ClusterMetadata) -> int:
    """The wanted replica count, capped at the brokers the cluster has."""
    return max(1, min(settings.changelog_replicas, len(cluster.brokers)))


def follow_models(settings: AgentSettings) -> tuple[ModelBook, TopicFollower]:
    """Start following the models topic; return once the announced models are loaded."""
    models = build_models(settings)
    follower = model_follower(settings.kafka, models)
    if not follower.start(settings.models_timeout_s):
        log.error("models topic not loaded within %s s", settings.models_timeout_s)
        raise typer.Exit(1)
    if CHAMPION in models.failed:
        # Deciding without it would approve what the model exists to catch.
        log.error("the announced champion cannot be loaded: %s", models.failed[CHAMPION])
        raise typer.Exit(1)
    if CHAMPION not in models.announced and settings.model_registry is not None:
        log.warning(
            "no champion announced on the models topic: rules decide alone until "
            "`sentinel models promote VERSION` (the registry's CURRENT is not followed)"
        )
    return models, follower


def transaction_claims(settings: AgentSettings) -> TransactionIdClaims | None:
    """The registry client each batch claims its transaction ids with (none: the check off).

    Connecting is lazy: a worker starts, and decides, while Redis is down."""
    if settings.transaction_id_window_s <= 0:
        return None
    return TransactionIdClaims.connect(
        settings.redis.url.get_secret_value(),
        settings.transaction_id_window_s,
        settings.transaction_id_timeout_s,
    )


def claim_data_dir(settings: AgentSettings) -> ClaimedDir:
    """A folder of its own under the data dir (rocksdb locks its files), with its parents
    (faust creates only the last level)."""
    try:
        return claim(settings.data_dir, settings.instance_id)
    except DataDirInUse as exc:
        log.error("%s", exc)
        raise typer.Exit(1) from exc


@agents_app.command("run")
def run(log_level: str = typer.Option("info", help="faust worker log level")) -> None:
    """Run one agent worker; start more processes to add capacity (no code change)."""
    base = AgentSettings()
    refuse_default_secrets(base.kafka, base.redis)
    own = claim_data_dir(base)
    settings = base.model_copy(update={"data_dir": own.path})
    cluster = kafka_edge.admin(settings.kafka).list_topics(timeout=30)
    # The store is this cluster's (any KRaft cluster has an id; confluent-kafka's types say
    # None, the attribute's value before librdkafka fills it in).
    bind_to_cluster(own.path, str(cluster.cluster_id))
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    reference = ReferenceData(observer=OBSERVER)
    follower = reference_follower(settings.kafka, reference)
    # Decide nothing before every rule published so far is live, nor before the announced
    # champion (and challenger) are loaded.
    if not follower.start(settings.reference_timeout_s):
        log.error("reference topics not loaded within %s s", settings.reference_timeout_s)
        raise typer.Exit(1)
    models, model_follower = follow_models(settings)
    publisher = BatchPublisher(settings.kafka, output_topics(settings))
    pipeline = build_pipeline(settings, reference, models, reply_partitions(settings, cluster))
    app = create_app(
        settings,
        pipeline,
        changelog_replicas(settings, cluster),
        publisher,
        transaction_claims(settings),
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # Everything loaded so far (libraries, rules, models, reference data) lives as long as
    # the process: out of the collector's sight, a full collection no longer walks it.
    if settings.gc_freeze:
        tune_for_deciding(settings.gc_young_threshold)
    watch_gc()
    try:
        Worker(app, loglevel=log_level, quiet=True).execute_from_commandline()
    finally:
        own.release()
        publisher.close()
        model_follower.stop()
        follower.stop()
