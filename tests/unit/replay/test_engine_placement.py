"""Replay places what it reads as the agents do (``decision_core.placement``): a forwarded
original skipped for its copy, a record not keyed by its account rejected with the agents'
reason, in the decided range and in the warm-up alike; each transaction decided once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from decision_core.placement import (
    FORWARDED,
    KEY_MISSING,
    KEY_NOT_ACCOUNT,
    REPARTITIONED_FROM,
    place,
)
from decision_core.records import BatchResult, Screened
from decision_core.records import SourceRecord as Record
from ledger_sink.testing import transaction
from replay.candidate import Candidate, build_pipeline
from replay.engine import Replaying
from replay.plan import PartitionRange
from replay.report import ReportPart
from schemas.codec import encode_transaction
from schemas.partitioning import home_partition
from schemas.records import Transaction

PARTITIONS = 12
HOME = home_partition(b"acct-1", PARTITIONS)
AWAY = (HOME + 1) % PARTITIONS
NOW = datetime.now(UTC).replace(microsecond=0)


def record(
    tx: Transaction,
    partition: int,
    offset: int,
    key: bytes | None = b"acct-1",
    headers: tuple[tuple[str, bytes], ...] = (),
) -> Record:
    at = int(tx.timestamp.timestamp() * 1000)
    return Record("transactions", partition, offset, at, key, encode_transaction(tx), headers)


def replaying(start: int = 0) -> tuple[Replaying, ReportPart]:
    """A replay of partitions HOME and AWAY, offsets below ``start`` warming only."""
    part = ReportPart()
    parts = [PartitionRange(p, 0, start, 100) for p in (HOME, AWAY)]
    pipeline = build_pipeline(Candidate(rules=()))
    return Replaying(pipeline, parts, PARTITIONS, part, None, None), part


def history() -> tuple[list[Transaction], list[Record]]:
    """acct-1's first transaction on its home partition; its second produced elsewhere,
    then forwarded home by the agents; a keyless one; one keyed by a card number."""
    txs = [transaction("acct-1", at=NOW - timedelta(minutes=4 - i)) for i in range(4)]
    first, moved, keyless, miskeyed = txs
    records = [
        record(first, HOME, 0),
        record(moved, AWAY, 0),
        record(keyless, AWAY, 1, key=None),
        record(miskeyed, HOME, 1, key=b"4111-card"),
        record(moved, HOME, 2, headers=((REPARTITIONED_FROM, f"{AWAY}/0".encode()),)),
    ]
    return txs, records


def test_a_forwarded_transaction_is_decided_once_from_its_copy_and_the_rest_counted() -> None:
    txs, records = history()
    engine, part = replaying()
    replayed = engine.feed(records)
    assert [(r.transaction_id, r.partition, r.offset) for r in replayed] == [
        (txs[0].transaction_id, HOME, 0),
        (txs[1].transaction_id, HOME, 2),  # the copy, on its home partition
    ]
    assert part.placement == {FORWARDED: 1, KEY_MISSING: 1, KEY_NOT_ACCOUNT: 1}
    assert (part.read, part.decided, part.invalid, part.duplicates) == (5, 2, 2, 0)


def test_replay_keeps_and_drops_the_records_the_agents_keep_and_drop() -> None:
    # The agents' own call on the same screened records (their batch, partition by
    # partition): what they decide is what replay decides.
    _txs, records = history()
    engine, _part = replaying()
    decided = {r.transaction_id for r in engine.feed(records)}
    pipeline = build_pipeline(Candidate(rules=()))
    screened: list[Screened] = pipeline.screen(records, BatchResult())
    kept = place(screened, PARTITIONS, BatchResult(), home_partition).kept
    assert decided == {one.tx.transaction_id for one in kept}


def test_the_warm_up_applies_only_what_the_agents_applied() -> None:
    # Every record before the range: the account's state took its first transaction and
    # the forwarded one from the copy on its home partition, nothing read elsewhere and
    # nothing of the badly keyed ones (which name acct-1 in their body too).
    _txs, records = history()
    engine, part = replaying(start=3)
    assert engine.feed(records) == []
    assert part.warmed == 5
    assert engine.accounts["acct-1"].applied_offsets == {HOME: 2}
