"""The sink's core: decode a batch, write it, dead-letter what cannot be written, commit.

Kafka and PostgreSQL stay behind the small protocols below (``kafka_io`` and ``writer``
implement them), so the batch logic is tested without either. The order within a batch is
what makes it exactly-once in effect: the database transaction commits first, then the dead
letters are acknowledged, then the batch is handed back to the source as done (which
commits its offsets then or within its commit interval: ``kafka_io.BatchConsumer``). A crash
anywhere before its offsets are committed redelivers the batch, and the database's
idempotency makes that harmless.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import psycopg
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from ledger_sink import metrics
from ledger_sink.errors import CanonicalEncodingError, KafkaUnavailable, Unwritable
from ledger_sink.raw import dead_letter
from ledger_sink.rows import inconsistency
from ledger_sink.writer import WriteResult
from schemas.codec import decode_decision
from schemas.errors import SchemaError
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter, Decision

T = TypeVar("T")
R = TypeVar("R")
V = TypeVar("V")
V_contra = TypeVar("V_contra", contravariant=True)
log = structlog.get_logger("ledger_sink.sink")


class Source(Protocol):
    def poll(self, max_records: int, timeout_s: float) -> list[RawRecord]: ...

    def commit(self, records: Sequence[RawRecord]) -> None: ...


class Writer(Protocol[V_contra]):
    def write(self, items: Sequence[V_contra], /) -> WriteResult: ...


class Letters(Protocol):
    def send(self, letters: Sequence[DeadLetter]) -> None: ...


@dataclass(frozen=True, slots=True)
class Incoming(Generic[V]):
    """A record ready to write: decoded and checked."""

    record: RawRecord
    value: V


@dataclass(slots=True)
class BatchReport:
    written: int = 0
    duplicates: int = 0
    letters: list[DeadLetter] = field(default_factory=list)

    def add(self, other: BatchReport) -> None:
        self.written += other.written
        self.duplicates += other.duplicates
        self.letters.extend(other.letters)


def decode(record: RawRecord) -> Incoming[Decision] | DeadLetter:
    """A decision ready to write, or the dead letter saying why it is not one."""
    try:
        decision = decode_decision(record.value)
    except SchemaError as exc:
        return dead_letter(record, exc.code, str(exc))
    problem = inconsistency(decision)
    if problem is not None:
        return dead_letter(record, "inconsistent_decision", problem)
    return Incoming(record, decision)


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: the server or the network, not the data (OperationalError
    covers lost connections, admin shutdown, deadlocks and serialization failures)."""
    return isinstance(exc, psycopg.OperationalError | KafkaUnavailable)


def rejection(exc: BaseException) -> tuple[str, str] | None:
    """(code, message) when `exc` says the data itself cannot be written; else None."""
    if isinstance(exc, Unwritable):
        return exc.code, str(exc)
    if isinstance(exc, CanonicalEncodingError):
        return "unencodable_entry", str(exc)
    if isinstance(exc, psycopg.Error) and (exc.sqlstate or "")[:2] in {"22", "23"}:
        # Class 22 (data exception) and 23 (integrity constraint violation): this row.
        # The primary message only: the DETAIL echoes the failing row, card token and all.
        constraint = exc.diag.constraint_name or exc.diag.table_name or "-"
        return "constraint_violation", f"{exc.sqlstate} {constraint}: {exc.diag.message_primary}"
    return None


class Sink(Generic[V]):
    """Runs batches until `stopping` is set; transient failures are retried without end.

    Decisions by default; ``decoder`` and a matching writer make it sink another record
    (the labels sink, ``ledger_sink.labels``) with the same ordering and error handling.
    """

    def __init__(
        self,
        source: Source,
        writer: Writer[V],
        letters: Letters,
        stopping: threading.Event,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
        decoder: Callable[[RawRecord], Incoming[V] | DeadLetter] = decode,  # type: ignore[assignment]
    ) -> None:
        self.source, self.writer, self.letters = source, writer, letters
        self.decoder = decoder
        self.stopping = stopping
        self._wait = wait_exponential_jitter(
            multiplier=retry_initial_s, max=retry_max_s, jitter=retry_initial_s
        )

    def run(self, batch_size: int, poll_timeout_s: float) -> None:
        while not self.stopping.is_set():
            records = self.source.poll(batch_size, poll_timeout_s)
            if records:
                self.process(records)

    def process(self, records: Sequence[RawRecord]) -> BatchReport:
        """Handle one consumed batch completely, ending with it handed back as done."""
        metrics.SINK_BATCH_SIZE.observe(len(records))
        incoming: list[Incoming[V]] = []
        report = BatchReport()
        for record in records:
            item = self.decoder(record)
            if isinstance(item, Incoming):
                incoming.append(item)
            else:
                report.letters.append(item)
        started = time.perf_counter()
        report.add(self._write(incoming))
        metrics.SINK_WRITE_SECONDS.observe(time.perf_counter() - started)
        if report.letters:
            self._retrying(self.letters.send, report.letters)
        self._commit(records)
        self._count(report)
        return report

    def _write(self, incoming: list[Incoming[V]]) -> BatchReport:
        """Write `incoming`; on a data error, split it until the culprits stand alone.

        Halves are written left before right, so each account's entries keep stream order.
        """
        if not incoming:
            return BatchReport()
        try:
            result = self._retrying(self.writer.write, [item.value for item in incoming])
        except Exception as exc:
            reason = rejection(exc)
            if reason is None:
                raise
            if len(incoming) == 1:
                log.warning(
                    "record rejected",
                    code=reason[0],
                    reason=reason[1],
                    **_where(incoming[0].record),
                )
                return BatchReport(letters=[dead_letter(incoming[0].record, *reason)])
            middle = len(incoming) // 2
            report = self._write(incoming[:middle])
            report.add(self._write(incoming[middle:]))
            return report
        return BatchReport(written=result.written, duplicates=result.duplicates)

    def _commit(self, records: Sequence[RawRecord]) -> None:
        try:
            self.source.commit(records)
        except KafkaUnavailable as exc:
            # The batch is in the database; a redelivery of it will be a no-op.
            log.warning("offset commit failed; the batch will be redelivered", error=str(exc))

    def _retrying(self, action: Callable[[T], R], argument: T) -> R:
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=self._wait,
            stop=lambda _state: self.stopping.is_set(),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(action, argument)

    def _sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)  # a stop request cuts the backoff short

    @staticmethod
    def _count(report: BatchReport) -> None:
        metrics.SINK_DECISIONS.labels("written").inc(report.written)
        metrics.SINK_DECISIONS.labels("duplicate").inc(report.duplicates)
        for letter in report.letters:
            metrics.SINK_DEAD_LETTERED.labels(letter.error_code).inc()
        log.debug(
            "batch",
            written=report.written,
            duplicates=report.duplicates,
            dead_lettered=len(report.letters),
        )


def _where(record: RawRecord) -> dict[str, object]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _log_retry(state: RetryCallState) -> None:
    metrics.SINK_RETRIES.inc()
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "transient failure; retrying",
        attempt=state.attempt_number,
        error=f"{type(error).__name__}: {error}",
    )
