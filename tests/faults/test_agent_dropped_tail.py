"""A worker whose consumer drops records at every partition's end still decides them.

faust's consumer can drop fetched records without acknowledging them (``getmany`` cut
short by a flow stop; ``tests.support.dropping_worker`` injects exactly that): nothing
commits past them and, at a partition's end, no later record reveals the hole. The
checkpoint (``stream_agents.checkpoint``) must see the records wait past a progress point
that does not move and seek the partition back, so that they come again: records past
the applied mark are then decided; records applied but never acknowledged (after a crash
the committed offset lags the mark, and their redelivery is what was dropped) are
acknowledged without being decided again, so the group's commits move past them.
"""

from __future__ import annotations

import sys
import time

import pytest

from tests.support.agents import (
    Workers,
    applied_marks,
    by_transaction,
    changelog_states,
    commit_group,
    decision_records,
    group_committed,
    last_offsets,
    produce,
    replayed_states,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]
DROP_FROM_OFFSET = 5
DROPPING_WORKER = (sys.executable, "-m", "tests.support.dropping_worker")


def wait_for_commits(prefix: str, expected: dict[int, int], timeout: float = 30) -> None:
    """Until the group's commits reach ``expected`` (faust commits on its interval, half a
    second here)."""
    deadline = time.monotonic() + timeout
    while group_committed(prefix, sorted(expected)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert group_committed(prefix, sorted(expected)) == expected


def test_records_the_consumer_dropped_at_partition_ends_are_sought_back_and_decided(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.env = {
        **workers.env,
        "SENTINEL_AGENTS_STALL_S": "1",
        "DROP_FROM_OFFSET": str(DROP_FROM_OFFSET),
    }
    workers.start(command=DROPPING_WORKER)
    txs = transactions(accounts=24, per_account=6)
    produce(prefix, txs)

    decisions = wait_for_decisions(prefix, {t.transaction_id for t in txs}, timeout=90)
    grouped = dict(by_transaction(decisions))
    assert set(grouped) == {t.transaction_id for t in txs}
    assert all(len({d.decision_id for d in ds}) == 1 for ds in grouped.values())
    ends = last_offsets(prefix)
    # Every partition had records to drop, and they came again after a seek.
    assert all(last >= DROP_FROM_OFFSET for last in ends.values()), ends
    assert f"no progress past {DROP_FROM_OFFSET}" in workers.log_text(0)
    # Acknowledged: the group's commits reach each partition's end.
    wait_for_commits(prefix, {partition: last + 1 for partition, last in ends.items()})
    workers.stop_all()
    assert changelog_states(prefix) == replayed_states(prefix)
    assert applied_marks(prefix) == last_offsets(prefix)


def test_applied_records_whose_redelivery_was_dropped_are_acknowledged_not_redecided(
    agents: tuple[str, Workers],
) -> None:
    """Every record applied (the marks at each partition's end), the group's commits left
    behind at offset 2, and the redelivery from there dropped: the checkpoint must seek
    back to the commits so the redeliveries come and are acknowledged, none decided again
    (their decisions went out before their marks)."""
    prefix, workers = agents
    workers.env = {**workers.env, "SENTINEL_AGENTS_STALL_S": "1"}
    workers.start()
    txs = transactions(accounts=24, per_account=6)
    produce(prefix, txs)
    wait_for_decisions(prefix, {t.transaction_id for t in txs}, timeout=90)
    workers.stop_all()
    ends = last_offsets(prefix)
    assert applied_marks(prefix) == ends
    commit_group(prefix, {partition: 2 for partition in ends})

    workers.env = {**workers.env, "DROP_FROM_OFFSET": "0"}
    workers.start(command=DROPPING_WORKER)
    wait_for_commits(prefix, {partition: last + 1 for partition, last in ends.items()})
    assert "no progress past 2" in workers.log_text(1)
    workers.stop_all()
    # Each transaction decided once, by the first worker.
    assert set(decision_records(prefix).values()) == {1}
    decisions = wait_for_decisions(prefix, {t.transaction_id for t in txs})
    assert all(len({d.decision_id for d in ds}) == 1 for _tx, ds in by_transaction(decisions))
    assert changelog_states(prefix) == replayed_states(prefix)
    assert applied_marks(prefix) == ends
