"""The partitioning contract's rule: which transactions are decided where they were read.

Each screened record is sorted here, by the agents on every batch and by replay on every
record it reads, so that replay decides exactly what the agents decided (docs/partitioning.md,
ADR 0008):

- on its home partition: decided;
- elsewhere: forwarded, a copy of it produced to its home partition with a
  ``repartitioned-from`` header, in the batch's outputs, so the checkpoint publishes it
  before it advances the mark past the original (nothing lost); it is decided there;
- without a key, or keyed by something other than its account id: dead-lettered;
- already forwarded once and still not home (the partition count changed in between, or
  two workers disagree on it): dead-lettered rather than sent round again.

The hash (``schemas.partitioning.home_partition``, aiokafka's murmur2) is passed in: the
decision code loads no Kafka client library. Plain Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from decision_core.outputs import dead_letter
from decision_core.records import BatchResult, Outgoing, Screened, SourceRecord

# (key, partition count) -> the key's home partition: schemas.partitioning.home_partition.
HomePartition = Callable[[bytes, int], int]
# The output role (stream_agents.app.output_topics) a forwarded copy is produced under.
REPARTITION: Final = "repartition"
# Header of a forwarded copy: "<partition>/<offset>" of the original in the same topic.
REPARTITIONED_FROM: Final = "repartitioned-from"
# What was done with a record off its place: FORWARDED (counted only), else the
# dead-letter code. Also the agents' metric reasons and replay's report keys.
FORWARDED: Final = "wrong_partition_forwarded"
KEY_MISSING: Final = "key_missing"
KEY_NOT_ACCOUNT: Final = "key_not_account"
STILL_MISPLACED: Final = "wrong_partition_after_repartition"
REFUSED: Final = (KEY_MISSING, KEY_NOT_ACCOUNT, STILL_MISPLACED)


@dataclass(slots=True)
class Placed:
    """A batch's screened records sorted by where they sit: those to decide here, and how
    many went elsewhere by reason (``FORWARDED`` or a dead-letter code)."""

    kept: list[Screened]
    moved: Counter[str] = field(default_factory=Counter)


def misplacement(
    record: SourceRecord, account: str, partitions: int | None, home: HomePartition
) -> str | None:
    """None for a record to decide where it was read; else what the rule does with it
    (``FORWARDED`` or a dead-letter code). ``partitions``: the transactions topic's
    partition count; None (not known yet) checks the key only."""
    if record.key is None:
        return KEY_MISSING
    if record.key != account.encode():
        return KEY_NOT_ACCOUNT
    if partitions is None or home(record.key, partitions) == record.partition:
        return None
    return FORWARDED if _origin(record) is None else STILL_MISPLACED


def place(
    screened: Sequence[Screened], partitions: int | None, result: BatchResult, home: HomePartition
) -> Placed:
    """The records of ``screened`` to decide on the partitions they were read from; each
    other one forwarded home or dead-lettered into ``result``."""
    placed = Placed([])
    for one in screened:
        reason = misplacement(one.record, one.tx.account_id, partitions, home)
        if reason is None:
            placed.kept.append(one)
            continue
        placed.moved[reason] += 1
        record = one.record
        if reason == FORWARDED and record.key is not None and partitions is not None:
            result.outgoing.append(forwarded(record, home(record.key, partitions)))
        else:
            message = _why(reason, one, partitions, home)
            result.outgoing.append(dead_letter(record, reason, message))
            result.dead_lettered += 1
    return placed


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


def _why(reason: str, one: Screened, partitions: int | None, home: HomePartition) -> str:
    """The dead letter's message for a refused record."""
    record, account = one.record, one.tx.account_id
    if reason == KEY_MISSING or record.key is None:
        return f"no key: transactions are keyed by their account id ({account!r})"
    if reason == KEY_NOT_ACCOUNT or partitions is None:
        key = record.key.decode("utf-8", "replace")
        return f"key {key!r} is not the account id {account!r}"
    return (
        f"forwarded from {_origin(record)} to partition {record.partition}, but murmur2 of the"
        f" key over {partitions} partitions is {home(record.key, partitions)}: did the"
        " partition count change?"
    )


def _origin(record: SourceRecord) -> str | None:
    for name, value in record.headers:
        if name == REPARTITIONED_FROM:
            return "partition/offset " + value.decode("utf-8", "replace")
    return None
