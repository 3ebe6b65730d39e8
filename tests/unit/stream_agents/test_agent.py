"""The agent's order of effects, without a broker: decisions acknowledged, then states and
marks published, then the table written, then faust's acknowledgements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from decision_core.records import BatchResult, Outgoing
from stream_agents.agent import CHANGELOG, DecisionAgent
from stream_agents.continuity import decode_mark, mark_key


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

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        return self.rows.get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.journal.entries.append("put")
        self.rows[key] = value

    def persisted(self, topic: str, delivered: dict[tuple[str, int], int]) -> None:
        self.journal.entries.append(f"persisted {topic}")


def agent(journal: Journal) -> tuple[DecisionAgent, Store]:
    store = Store(journal)
    made = DecisionAgent(
        app=cast(Any, None),
        store=cast(Any, store),
        pipeline=cast(Any, None),
        publisher=cast(Any, Publisher(journal)),
        gap_reader=cast(Any, None),
        source_topic="transactions",
        changelog_topic="account-features-changelog",
        max_stall_span=10,
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
    await worker.publish(result, {3: 41}, lambda: journal.entries.append("acknowledged"))
    assert journal.entries == [
        "publish decisions,webhooks",
        f"publish {CHANGELOG}",
        "put",
        "put",
        "persisted account-features-changelog",
        "acknowledged",
    ]
    assert store.rows[b"acct-1"] == b"state"
    assert decode_mark(store.rows[mark_key(3)]) == 41
    assert worker.applied(3) == 41
    assert worker.load("acct-1") == b"state"
