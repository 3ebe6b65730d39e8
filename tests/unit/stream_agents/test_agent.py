"""The agent without a broker: its order of effects (decisions acknowledged, then states and
marks published, then the table written), and what it decides from the checkpoint on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from faust.types import TP

from decision_core.records import BatchResult, Outgoing, Screened, SourceRecord
from schemas.partitioning import home_partition
from stream_agents.agent import CHANGELOG, DecisionAgent
from stream_agents.checkpoint import Checkpoint, decode_mark, encode_mark, mark_key


class Journal:
    """Every effect in the order it happened, across the fakes."""

    def __init__(self) -> None:
        self.entries: list[str] = []


class Publisher:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def publish(self, records: Sequence[Outgoing]) -> dict[tuple[str, int], int]:
        self.journal.entries.append("publish " + ",".join(sorted({r.role for r in records})))
        return {(r.role, r.partition or 0): 7 for r in records}


class Store:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.rows: dict[bytes, bytes] = {}
        self.reads: list[tuple[bytes, int | None]] = []

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        self.reads.append((key, partition))
        return self.rows.get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.journal.entries.append("put")
        self.rows[key] = value

    def persisted(self, topic: str, delivered: dict[tuple[str, int], int]) -> None:
        self.journal.entries.append(f"persisted {topic}")


class Consumer:
    """faust's consumer as the agent uses it: the seeks it was asked for."""

    def __init__(self, partitions: int | None = None) -> None:
        self.sought: list[tuple[int, int]] = []
        self.partitions = partitions  # None: the count not known (keys checked only)

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp.partition, offset))

    def assignment(self) -> set[TP]:
        return {TP("transactions", p) for p in range(4)}

    def topic_partitions(self, topic: str) -> int | None:
        return self.partitions

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: 3 for tp in tps}


class Pipeline:
    """Decides every record it is given, but those the claims call reused: one decision
    each, the offset as the state; the transaction of a record is its offset."""

    def __init__(self) -> None:
        self.decided: list[int] = []
        self.refused: list[int] = []

    def screen(self, records: list[SourceRecord], result: BatchResult) -> list[Screened]:
        return [Screened(r, cast(Any, Tx(r.offset, "k"))) for r in records]

    def process_screened(
        self,
        screened: list[Screened],
        load: Callable[[str], bytes | None],
        result: BatchResult,
        reused: Sequence[bool] = (),
    ) -> BatchResult:
        clash = list(reused) or [False] * len(screened)
        for one in screened:
            load(one.tx.account_id)
        records = [one.record for one, c in zip(screened, clash, strict=True) if not c]
        self.refused += [one.record.offset for one, c in zip(screened, clash, strict=True) if c]
        self.decided += [r.offset for r in records]
        result.outgoing += [Outgoing("decisions", r.key or b"", r.value or b"") for r in records]
        result.states = {f"acct-{r.offset}": (r.partition, b"s") for r in records}
        result.decided = len(records)
        return result


@dataclass(frozen=True)
class Tx:
    """What the agent reads of a transaction: its account (the key of ``event``'s records)."""

    offset: int
    account_id: str


class Claims:
    """The registry: every odd transaction (offset) was claimed by another body."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    async def reused(self, txs: Sequence[Tx]) -> list[bool]:
        self.asked.append([tx.offset for tx in txs])
        return [tx.offset % 2 == 1 for tx in txs]


@dataclass
class Event:
    message: Any


def event(partition: int, offset: int) -> Event:
    return Event(
        SimpleNamespace(
            topic="transactions",
            partition=partition,
            offset=offset,
            timestamp=1.0,
            key=b"k",
            value=b"v",
            headers=[],
            generation_id=1,
        )
    )


def agent(
    journal: Journal, claims: Claims | None = None, partitions: int | None = None
) -> tuple[DecisionAgent, Store]:
    store = Store(journal)
    app = SimpleNamespace(consumer=Consumer(partitions), consumer_generation_id=1)
    made = DecisionAgent(
        app=cast(Any, app),
        store=cast(Any, store),
        pipeline=cast(Any, Pipeline()),
        publisher=cast(Any, Publisher(journal)),
        checkpoint=Checkpoint(quiet_s=1.0, stall_s=5.0, clock=lambda: 0.0),
        source_topic="transactions",
        changelog_topic="account-features-changelog",
        claims=cast(Any, claims),
    )
    return made, store


async def test_a_mark_goes_out_after_its_decisions_and_into_the_table_last() -> None:
    journal = Journal()
    worker, store = agent(journal)
    result = BatchResult(
        outgoing=[Outgoing("decisions", b"a", b"d"), Outgoing("webhooks", b"a", b"w")],
        states={"acct-1": (3, b"state")},
        decided=1,
    )
    await worker.publish(result, {3: 41})
    assert journal.entries == [
        "publish decisions,webhooks",
        f"publish {CHANGELOG}",
        "put",
        "put",
        "persisted account-features-changelog",
    ]
    assert store.rows[b"acct-1"] == b"state"
    assert decode_mark(store.rows[mark_key(3)]) == 41
    assert worker.applied(3) == 41
    assert worker.load("acct-1") == b"state"


async def test_an_awaited_decisions_reply_goes_out_only_after_the_decision() -> None:
    # Its caller is answered from the reply: only with a decision the broker holds.
    journal = Journal()
    worker, _store = agent(journal)
    decided = Outgoing("decisions", b"a", b"d")
    result = BatchResult(
        outgoing=[decided, Outgoing("webhooks", b"a", b"w")],
        replies=[Outgoing("replies", b"a", b"d", partition=5)],
        states={"acct-1": (3, b"state")},
        decided=1,
    )
    await worker.publish(result, {3: 41})
    assert journal.entries[:2] == ["publish decisions,webhooks", f"publish {CHANGELOG},replies"]


async def test_an_accounts_state_is_read_from_the_partition_its_records_come_from() -> None:
    # Placed records sit on their account's home partition, where the agent writes its
    # state: the read asks that partition's store, not every one (rocksdb: one database).
    worker, store = agent(Journal())
    await worker.decide([event(5, 3), event(5, 4)])  # the log starts at 3
    assert (b"k", 5) in store.reads
    assert all(partition is not None for _key, partition in store.reads)


async def test_redeliveries_are_dropped_and_a_hole_is_sought_back_not_decided_past() -> None:
    worker, store = agent(Journal())
    store.rows[mark_key(0)] = encode_mark(9)
    await worker.decide([event(0, 8), event(0, 9), event(0, 10), event(0, 12), event(0, 13)])
    pipeline = cast(Pipeline, worker.pipeline)
    assert pipeline.decided == [10]
    assert worker.applied(0) == 10
    assert cast(Consumer, worker.app.consumer).sought == [(0, 11)]


async def test_a_partition_never_applied_starts_at_its_log_start() -> None:
    worker, _store = agent(Journal())
    await worker.decide([event(1, 5), event(1, 6)])
    assert cast(Pipeline, worker.pipeline).decided == []
    assert cast(Consumer, worker.app.consumer).sought == [(1, 3)]
    await worker.decide([event(1, 3), event(1, 4)])
    assert cast(Pipeline, worker.pipeline).decided == [3, 4]
    assert worker.applied(1) == 4


async def test_the_admitted_records_ids_are_claimed_in_one_call_and_a_reused_one_not_decided() -> (
    None
):
    claims = Claims()
    worker, store = agent(Journal(), claims)
    store.rows[mark_key(0)] = encode_mark(9)
    # 9 is a redelivery (at the mark): dropped before anything is claimed.
    await worker.decide([event(0, 9), event(0, 10), event(0, 11), event(0, 12)])
    pipeline = cast(Pipeline, worker.pipeline)
    assert claims.asked == [[10, 11, 12]]
    assert pipeline.decided == [10, 12]
    assert pipeline.refused == [11]
    # A refused record is applied all the same (dead-lettered): the mark moves past it.
    assert worker.applied(0) == 12


async def test_a_record_off_its_home_partition_is_forwarded_before_its_mark_not_decided() -> None:
    journal = Journal()
    worker, store = agent(journal, partitions=4)
    home = home_partition(b"k", 4)
    away = (home + 1) % 4
    store.rows[mark_key(home)] = encode_mark(9)
    store.rows[mark_key(away)] = encode_mark(9)
    await worker.decide([event(away, 10), event(home, 10)])
    pipeline = cast(Pipeline, worker.pipeline)
    assert pipeline.decided == [10]  # the home partition's record only
    # The copy leaves with the batch's decisions, before the marks; the mark of the
    # partition it came from moves past it (decided where it belongs, not here).
    assert journal.entries[:2] == ["publish decisions,repartition", f"publish {CHANGELOG}"]
    assert worker.applied(away) == 10
    assert worker.applied(home) == 10
