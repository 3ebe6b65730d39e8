"""The partitioning contract, checked on every transaction the agent consumes.

A transaction is keyed by its account id (UTF-8) and belongs on partition
``toPositive(murmur2(key)) % partitions`` of the transactions topic: Java's client's
default partitioner, librdkafka's ``murmur2_random``, the API's, the simulator's and the
agent's own. Only then do one account's records sit in one partition, in order, next to its
feature state. A gateway whose client keeps librdkafka's default (``consistent_random``:
CRC32) puts the account elsewhere, and its features would be computed from half its
history. So each screened record is sorted here (docs/partitioning.md, ADR 0008):

- on its home partition: decided;
- elsewhere: forwarded, a copy of it produced to its home partition with a
  ``repartitioned-from`` header, in the batch's outputs, so the checkpoint publishes it
  before it advances the mark past the original (nothing lost); it is decided there;
- without a key, or keyed by something other than its account id: dead-lettered;
- already forwarded once and still not home (the partition count changed in between, or
  two workers disagree on it): dead-lettered rather than sent round again.

The hash is aiokafka's ``murmur2`` (a port of Java's ``Utils.murmur2``, the client faust
runs on), cached per key and partition count: the hot path pays a dict look-up.
Plain Python besides: no faust, no broker.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from aiokafka.partitioner import murmur2

from decision_core.outputs import dead_letter
from decision_core.records import BatchResult, Outgoing, Screened, SourceRecord

# The output role (stream_agents.app.output_topics) a forwarded copy is produced under.
REPARTITION: Final = "repartition"
# Header of a forwarded copy: "<partition>/<offset>" of the original in the same topic.
REPARTITIONED_FROM: Final = "repartitioned-from"
# Dead-letter codes, also the metric's reasons; FORWARDED is counted only.
FORWARDED: Final = "wrong_partition_forwarded"
KEY_MISSING: Final = "key_missing"
KEY_NOT_ACCOUNT: Final = "key_not_account"
STILL_MISPLACED: Final = "wrong_partition_after_repartition"
# Distinct (key, partition count) pairs remembered, least recently used out: ~200 bytes
# each with its key (measured), so ~13 MB; a miss costs the hash, ~2.3 µs.
CACHED_KEYS: Final = 1 << 16


@lru_cache(maxsize=CACHED_KEYS)
def home_partition(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner gives ``key`` among ``partitions``."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    # Java's Utils.toPositive(murmur2(key)) % n; aiokafka's murmur2 is unsigned 32-bit.
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


@dataclass(slots=True)
class Placed:
    """A batch's screened records sorted by where they sit: those to decide here, and how
    many went elsewhere by reason (``FORWARDED`` or a dead-letter code)."""

    kept: list[Screened]
    moved: Counter[str] = field(default_factory=Counter)


def place(screened: Sequence[Screened], partitions: int | None, result: BatchResult) -> Placed:
    """The records of ``screened`` to decide on the partitions they were read from; each
    other one forwarded home or dead-lettered into ``result``. ``partitions``: the
    transactions topic's partition count; None (not known yet) checks the keys only."""
    placed = Placed([])
    for one in screened:
        reason = _misplacement(one, partitions, result)
        if reason is None:
            placed.kept.append(one)
        else:
            placed.moved[reason] += 1
    return placed


def _misplacement(one: Screened, partitions: int | None, result: BatchResult) -> str | None:
    """None for a record on its home partition; else what was done with it (its copy or
    its dead letter is in ``result``)."""
    record, account = one.record, one.tx.account_id
    if record.key is None:
        message = f"no key: transactions are keyed by their account id ({account!r})"
        return _refuse(record, KEY_MISSING, message, result)
    if record.key != account.encode():
        key = record.key.decode("utf-8", "replace")
        message = f"key {key!r} is not the account id {account!r}"
        return _refuse(record, KEY_NOT_ACCOUNT, message, result)
    if partitions is None:
        return None
    home = home_partition(record.key, partitions)
    if home == record.partition:
        return None
    origin = _origin(record)
    if origin is not None:
        message = (
            f"forwarded from {origin} to partition {record.partition}, but murmur2 of the key "
            f"over {partitions} partitions is {home}: did the partition count change?"
        )
        return _refuse(record, STILL_MISPLACED, message, result)
    result.outgoing.append(forwarded(record, home))
    return FORWARDED


def forwarded(record: SourceRecord, home: int) -> Outgoing:
    """A copy of ``record`` for its home partition: same key, value, headers and
    timestamp (the event-time checks and the decision's ingest time stay the original's),
    plus where it came from."""
    where = f"{record.partition}/{record.offset}".encode()
    return Outgoing(
        REPARTITION,
        record.key or b"",
        record.value or b"",
        (*record.headers, (REPARTITIONED_FROM, where)),
        partition=home,
        timestamp_ms=record.timestamp_ms if record.timestamp_ms > 0 else None,
    )


def _origin(record: SourceRecord) -> str | None:
    for name, value in record.headers:
        if name == REPARTITIONED_FROM:
            return "partition/offset " + value.decode("utf-8", "replace")
    return None


def _refuse(record: SourceRecord, code: str, message: str, result: BatchResult) -> str:
    result.outgoing.append(dead_letter(record, code, message))
    result.dead_lettered += 1
    return code
