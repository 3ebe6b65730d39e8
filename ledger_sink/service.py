"""`sentinel sink run`'s process: the sink wired to Kafka and PostgreSQL from its settings."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Protocol, TypeVar

import structlog

from ledger_sink import metrics
from ledger_sink.head_publisher import SigningWriter
from ledger_sink.kafka_io import BatchConsumer, DurableProducer
from ledger_sink.settings import ConsumerSettings, SinkSettings
from ledger_sink.sink import Incoming, Sink, decode
from ledger_sink.writer import LedgerWriter, WriteResult
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter, Decision

log = structlog.get_logger("ledger_sink.service")


def stop_on_signals(stopping: threading.Event) -> None:
    """SIGTERM and SIGINT ask the loop to finish its batch, commit it and return."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


V = TypeVar("V")
V_contra = TypeVar("V_contra", contravariant=True)


class ClosingWriter(Protocol[V_contra]):
    def write(self, items: Sequence[V_contra], /) -> WriteResult: ...

    def close(self) -> None: ...


def consume(
    name: str,
    settings: ConsumerSettings,
    topic: str,
    writer: ClosingWriter[V],
    decoder: Callable[[RawRecord], Incoming[V] | DeadLetter],
    stopping: threading.Event,
) -> None:
    """Run one ledger consumer (``Sink`` loop: database, then dead letters, then offsets)
    from ``topic`` into ``writer`` until `stopping` is set; close everything after."""
    metrics.serve(settings.metrics_port, settings.metrics_host)
    letters = DurableProducer(settings.kafka, settings.dead_letter_topic)
    source = BatchConsumer(
        settings.kafka,
        settings.consumer_group,
        topic,
        stats_interval_ms=settings.stats_interval_ms,
        instance_id=settings.instance_id,
        session_timeout_ms=settings.session_timeout_ms,
        gather_s=settings.gather_ms / 1000,
        commit_interval_s=settings.commit_interval_s,
    )
    sink = Sink(
        source, writer, letters, stopping, settings.retry_initial_s, settings.retry_max_s, decoder
    )
    log.info(
        f"{name} started",
        topic=topic,
        group=settings.consumer_group,
        batch_size=settings.batch_size,
    )
    try:
        sink.run(settings.batch_size, settings.poll_timeout_s)
    finally:
        source.close()
        letters.close()
        writer.close()
        log.info(f"{name} stopped")


def run(settings: SinkSettings, stopping: threading.Event) -> None:
    """Consume decisions into the ledger until `stopping` is set."""
    writer: ClosingWriter[Decision] = LedgerWriter(settings.postgres.dsn.get_secret_value())
    key = settings.signing.key()
    if key is None:
        log.warning("ledger heads are not signed: SENTINEL_LEDGER_SIGNING_KEY is unset")
    else:
        topic = settings.signing.heads_topic(settings.kafka.topic_prefix)
        heads = DurableProducer(settings.kafka, topic)
        writer = SigningWriter(writer, heads, key, settings.signing.heads_interval_s)
    consume("sink", settings, settings.decisions_topic, writer, decode, stopping)
