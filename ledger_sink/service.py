"""`sentinel sink run`'s process: the sink wired to Kafka and PostgreSQL from its settings."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import structlog

from ledger_sink import metrics
from ledger_sink.kafka_io import BatchConsumer, DurableProducer
from ledger_sink.settings import SinkSettings
from ledger_sink.sink import Sink
from ledger_sink.writer import LedgerWriter

log = structlog.get_logger("ledger_sink.service")


def stop_on_signals(stopping: threading.Event) -> None:
    """SIGTERM and SIGINT ask the loop to finish its batch, commit it and return."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run(settings: SinkSettings, stopping: threading.Event) -> None:
    """Consume decisions into the ledger until `stopping` is set."""
    metrics.serve(settings.metrics_port, settings.metrics_host)
    writer = LedgerWriter(settings.postgres.dsn.get_secret_value())
    letters = DurableProducer(settings.kafka, settings.dead_letter_topic)
    source = BatchConsumer(
        settings.kafka,
        settings.consumer_group,
        settings.decisions_topic,
        stats_interval_ms=settings.stats_interval_ms,
        instance_id=settings.instance_id,
        session_timeout_ms=settings.session_timeout_ms,
    )
    sink = Sink(source, writer, letters, stopping, settings.retry_initial_s, settings.retry_max_s)
    log.info(
        "sink started",
        topic=settings.decisions_topic,
        group=settings.consumer_group,
        batch_size=settings.batch_size,
    )
    try:
        sink.run(settings.batch_size, settings.poll_timeout_s)
    finally:
        source.close()
        letters.close()
        writer.close()
        log.info("sink stopped")
