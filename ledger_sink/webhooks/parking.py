"""Parked deliveries: what waits for a subscriber that cannot take it now (its circuit is
open, or its queue is full), batched into one ``webhooks.retry`` record per subscriber per
flush rather than one record (and one connect attempt) per event.

A dead subscriber then costs an append per event and a Kafka record per flush, and its
events never hold the records of the events topic, so the live subscribers' deliveries go
on at their own pace. A batch record's value is its entries back to back, each
``>H attempt, >I length, event bytes``; its headers are a retry ticket plus the entry count.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger_sink.webhooks.retry_records import InvalidRetryRecord, Ticket
from schemas.kafka_edge import RawRecord

BATCH = "sentinel-batch"
_ENTRY = struct.Struct(">HI")


@dataclass(frozen=True, slots=True)
class Entry:
    """One parked event: the attempt it is at (not yet made) and its bytes."""

    attempt: int
    event_bytes: bytes


def encode(entries: Sequence[Entry]) -> bytes:
    return b"".join(
        _ENTRY.pack(min(e.attempt, 0xFFFF), len(e.event_bytes)) + e.event_bytes for e in entries
    )


def decode(value: bytes) -> list[Entry]:
    """The entries of a batch record's value, or InvalidRetryRecord."""
    entries, at = [], 0
    while at < len(value):
        if at + _ENTRY.size > len(value):
            raise InvalidRetryRecord("a parked batch ends inside an entry header")
        attempt, length = _ENTRY.unpack_from(value, at)
        at += _ENTRY.size
        if attempt < 1 or at + length > len(value):
            raise InvalidRetryRecord("a parked batch entry is truncated or has no attempt")
        entries.append(Entry(attempt, value[at : at + length]))
        at += length
    return entries


def is_batch(record: RawRecord) -> bool:
    return BATCH in record.headers


def batch_headers(ticket: Ticket, count: int) -> list[tuple[str, bytes]]:
    return [*ticket.headers(), (BATCH, str(count).encode())]


def single(record: RawRecord, ticket: Ticket, entry: Entry, event_id: str) -> RawRecord:
    """One entry as the single-event retry record it stands for: what its dead letter keeps
    (the event's bytes, its own retry headers), so a re-drive sends that one event."""
    own = Ticket(ticket.subscription_id, entry.attempt, ticket.due_ms, ticket.last_error, event_id)
    return RawRecord(
        record.topic, record.partition, record.offset, record.key, entry.event_bytes,
        dict(own.headers()),
    )  # fmt: skip


Send = Callable[[str, list[Entry], int], Awaitable[None]]
# A subscriber's batches: new events (due when its circuit lets a probe through) apart from
# batches that came due and go back (due after their backoff, often much later).
Lane = tuple[str, bool]


@dataclass(slots=True)
class _Open:
    entries: list[Entry] = field(default_factory=list)
    size: int = 0
    due_ms: int = 0


class ParkingLot:
    """The batches being filled, one per subscriber (and lane), all flushed together every
    `flush_s` (or once one holds `max_bytes`): each flush stores one record per batch, and
    one future per flush tells every waiter that its entries are stored. An event parked
    for ten dead subscribers then waits on one future, not ten."""

    def __init__(self, send: Send, flush_s: float, max_bytes: int) -> None:
        self._send, self.flush_s, self.max_bytes = send, flush_s, max_bytes
        self._open: dict[Lane, _Open] = {}
        self._flushed: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._storing: set[asyncio.Task[None]] = set()  # held: the loop keeps weak refs

    def park_nowait(
        self, subscription_id: str, entry: Entry, due_ms: int, *, again: bool = False
    ) -> asyncio.Future[None]:
        """Add `entry` to the subscriber's open batch (`again`: of entries come due and
        going back); the future resolves once it is stored (shared by the whole flush:
        await it shielded, or add a callback)."""
        flushed = self._flushed
        if flushed is None:
            loop = asyncio.get_running_loop()
            flushed = self._flushed = loop.create_future()
            self._timer = loop.call_later(self.flush_s, self.flush)
        batch = self._open.get((subscription_id, again))
        if batch is None:
            batch = self._open[(subscription_id, again)] = _Open()
        batch.entries.append(entry)
        batch.size += len(entry.event_bytes) + _ENTRY.size
        if due_ms > batch.due_ms:
            batch.due_ms = due_ms
        if batch.size >= self.max_bytes:
            self.flush()
        return flushed

    def flush(self) -> None:
        """Store every open batch now (one record each)."""
        flushed, batches = self._flushed, self._open
        if flushed is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._flushed, self._timer, self._open = None, None, {}
        task = asyncio.get_running_loop().create_task(self._store(batches, flushed))
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)

    async def _store(self, batches: dict[Lane, _Open], flushed: asyncio.Future[None]) -> None:
        try:
            await asyncio.gather(
                *(self._send(sub_id, b.entries, b.due_ms) for (sub_id, _), b in batches.items())
            )
        except Exception as exc:  # the waiters' pump stops on it: nothing is committed
            flushed.set_exception(exc)
            return
        flushed.set_result(None)


def joined(stores: Iterable[asyncio.Future[Any] | None]) -> asyncio.Future[Any] | None:
    """One future for the stores some entries wait on (None: none): as a rule they share
    one flush's; when a full batch flushed in between, every flush's, gathered."""
    distinct = list({id(f): f for f in stores if f is not None}.values())
    if len(distinct) > 1:
        return asyncio.gather(*distinct)
    return distinct[0] if distinct else None
