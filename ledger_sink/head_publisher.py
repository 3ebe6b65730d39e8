"""The sink's writer, plus signing: each committed batch's chain heads, signed and published.

Wraps the ledger writer (the ``Sink`` sees one writer). Heads are collected as batches commit
and published every ``heads_interval_s``, newest per account, on the compacted heads topic.
Publishing happens after the database commit and never fails a batch: a broker that does not
answer leaves the heads pending for the next attempt (logged and counted), because the
ledger is already written and a redelivered batch would add no new head.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

import structlog

from ledger_sink import metrics
from ledger_sink.errors import KafkaUnavailable
from ledger_sink.heads import Head, encode, sign
from ledger_sink.writer import WriteResult

log = structlog.get_logger("ledger_sink.heads")


# What is written: decisions (the sink) or review resolutions (the reviews sink).
V = TypeVar("V")
V_contra = TypeVar("V_contra", contravariant=True)


class LedgerWriting(Protocol[V_contra]):
    def write(self, items: Sequence[V_contra], /) -> WriteResult: ...

    def close(self) -> None: ...


class Producing(Protocol):
    def produce_all(self, records: Sequence[tuple[bytes | None, bytes]]) -> None: ...

    def close(self) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SigningWriter(Generic[V]):
    """`inner`, whose committed heads are signed with `key` and sent through `producer`."""

    def __init__(
        self,
        inner: LedgerWriting[V],
        producer: Producing,
        key: bytes,
        interval_s: float,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner, self.producer, self._key = inner, producer, key
        self.interval_s = interval_s
        self._clock, self._monotonic = clock, monotonic
        self._pending: dict[str, Head] = {}
        self._last = monotonic()

    def write(self, items: Sequence[V], /) -> WriteResult:
        result = self.inner.write(items)
        for head in result.heads:
            self._pending[head.account_id] = head
        if self._monotonic() - self._last >= self.interval_s:
            self.publish()
        return result

    def publish(self) -> int:
        """Sign and send every pending head now; how many were sent (0 on a Kafka failure)."""
        self._last = self._monotonic()
        if not self._pending:
            return 0
        now = self._clock()
        heads = list(self._pending.values())
        records = [(h.account_id.encode(), encode(sign(h, self._key, now))) for h in heads]
        try:
            self.producer.produce_all(records)
        except KafkaUnavailable as exc:
            metrics.SINK_HEADS_UNPUBLISHED.inc()
            log.warning("signed heads not published; kept for the next attempt", error=str(exc))
            return 0
        self._pending.clear()
        metrics.SINK_HEADS_PUBLISHED.inc(len(heads))
        return len(heads)

    def close(self) -> None:
        try:
            self.publish()
        finally:
            self.producer.close()
            self.inner.close()
