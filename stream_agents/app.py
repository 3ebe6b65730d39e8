"""The faust-streaming app: topics, the feature table, and the decision agent wired in.

The only modules that import faust are this one, ``agent``, ``worker`` and ``faust_edge``.
The agent (``stream_agents.agent.DecisionAgent``) takes micro-batches from
``transactions``, hands them to the pure ``DecisionPipeline``, and publishes with
librdkafka, first its outputs, then the touched account states and marks for the table's
changelog: faust acknowledges the batch only after the broker holds all of it, so a crash
can only repeat work, never lose it, and a mark never reaches the broker before its
decisions. Deterministic decision ids, the ledger's uniqueness and marks that never precede
their decisions make the effects exactly once (faust's exactly_once was measured and
removed: docs/adr/0002-at-least-once-vs-exactly-once.md).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from faust.tables import TableManager

from decision_core.outputs import REPLIES
from decision_core.pipeline import DecisionPipeline
from decision_core.placement import REPARTITION
from schemas.kafka_edge import faust_credentials
from schemas.topics import (
    DEAD_LETTER,
    DECISION_REPLIES,
    DECISIONS,
    HEADER_AWAITED,
    TRANSACTIONS,
    WEBHOOKS,
    feature_changelog,
)
from stream_agents.agent import CHANGELOG, DecisionAgent
from stream_agents.checkpoint import Checkpoint
from stream_agents.faust_edge import App, PartitionedStore
from stream_agents.metrics import StandbyReport
from stream_agents.output import BatchPublisher
from stream_agents.settings import AgentSettings
from stream_agents.txid_claims import TransactionIdClaims

FEATURE_TABLE = "account-features"


def raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def input_topic(settings: AgentSettings) -> str:
    return f"{settings.kafka.topic_prefix}{TRANSACTIONS.name}"


def changelog_topic(settings: AgentSettings) -> str:
    """The feature table's changelog topic, named as faust names it."""
    return f"{settings.kafka.topic_prefix}{settings.app_id}-{FEATURE_TABLE}-changelog"


def output_topics(settings: AgentSettings) -> dict[str, str]:
    """The topic of each output role: the pipeline's, the table's changelog, and the
    transactions topic itself for records sent to their home partition."""
    prefix = settings.kafka.topic_prefix
    return {
        "decisions": f"{prefix}{DECISIONS.name}",
        REPLIES: f"{prefix}{DECISION_REPLIES.name}",
        "webhooks": f"{prefix}{WEBHOOKS.name}",
        "dead-letter": f"{prefix}{DEAD_LETTER.name}",
        CHANGELOG: changelog_topic(settings),
        REPARTITION: input_topic(settings),
    }


def group_id(settings: AgentSettings) -> str:
    """The agents' consumer group: the faust app's id."""
    return f"{settings.kafka.topic_prefix}{settings.app_id}"


def create_app(
    settings: AgentSettings,
    pipeline: DecisionPipeline,
    replicas: int,
    publisher: BatchPublisher,
    claims: TransactionIdClaims | None = None,
) -> faust.App:
    """A faust app whose consumer group, changelog topics and topics carry the prefix, with
    the decision agent on the transactions topic and its checkpoint's tick on a timer.
    ``claims``: the transaction id registry the agent claims each batch's ids in."""
    app = _faust_app(settings, replicas)
    transactions = raw_topic(app, input_topic(settings))
    agent = DecisionAgent(
        app,
        PartitionedStore(_feature_table(app, settings, replicas)),
        pipeline,
        publisher,
        Checkpoint(settings.seek_quiet_s, settings.stall_s, clock=time.monotonic),
        source_topic=input_topic(settings),
        changelog_topic=changelog_topic(settings),
        claims=claims,
    )
    batch_wait_s = settings.batch_wait_ms / 1000

    @app.agent(transactions, concurrency=1)
    async def decide(stream: Any) -> AsyncIterator[None]:
        batches = stream.take_ready(settings.batch_max, within=batch_wait_s, urgent=awaited)
        async for events in batches:
            await agent.decide(events)
            yield None

    standbys = StandbyReport()

    @app.timer(settings.seek_quiet_s)  # type: ignore[untyped-decorator]  # faust: untyped
    async def tick() -> None:
        publisher.serve()  # served on the loop: its client errors between batches
        await agent.tick()
        # TableManager.recovery is public, though faust's abstract TableManagerT omits it.
        tables = cast(TableManager, app.tables)
        recovery = tables.recovery
        behind = StandbyReport.behind(
            recovery.standby_tps, recovery.standby_highwaters, recovery.standby_offsets
        )
        standbys.observe(tables.actives_ready, behind)

    return app


def awaited(event: faust.EventT[Any]) -> bool:
    """Whether the transaction's producer waits for its decision (``HEADER_AWAITED``)."""
    return HEADER_AWAITED in event.headers


def _faust_app(settings: AgentSettings, replicas: int) -> faust.App:
    return App(
        group_id(settings),
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        # The same security as every librdkafka client (schemas.kafka_edge): faust hands them
        # to each aiokafka client it builds, its consumer, its producer and the consumer's
        # client that declares topics.
        broker_credentials=faust_credentials(settings.kafka),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.table_partitions,
        table_standby_replicas=settings.table_standby_replicas,
        topic_replication_factor=replicas,
        topic_allow_declare=True,
        web_enabled=False,
        fetch_wait_ms=settings.fetch_wait_ms,
        fetch_min_bytes=settings.fetch_min_bytes,
        processing_guarantee="at_least_once",
        broker_commit_interval=settings.commit_interval_s,
        producer_linger_ms=1,
        producer_compression_type="lz4",
        producer_acks=-1,
        stream_buffer_maxsize=settings.batch_max * 4,
        consumer_auto_offset_reset="earliest",
        # Failover (docs/adr/0004-static-membership.md): a restarted worker rejoins as
        # itself; a dead one is given up after the session timeout.
        consumer_group_instance_id=settings.instance_id,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
    )


def _feature_table(app: faust.App, settings: AgentSettings, replicas: int) -> Any:
    """Account id (raw bytes) -> the account's feature state (raw bytes). The changelog is
    written explicitly, to the partition the account's transactions come from."""
    return app.Table(
        FEATURE_TABLE,
        default=None,
        partitions=settings.table_partitions,
        # bytes key and value types make faust use its "raw" codec, in recovery too.
        key_type=bytes,
        value_type=bytes,
        # Compacted with rolling segments as declared in schemas.topics (faust's default:
        # compact, with the broker's 1 GiB / 7-day segments that never roll).
        extra_topic_configs=dict(
            feature_changelog(settings.app_id, settings.table_partitions)
            .fit_to_cluster(replicas)
            .config
        ),
    )
