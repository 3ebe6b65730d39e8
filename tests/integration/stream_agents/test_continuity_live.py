"""A worker finds records its consumer group committed without the agent ever deciding
them, at a partition's end where no later record reveals the hole.

faust-streaming 0.15 can acknowledge records it dropped around a rebalance
(``stream_agents.checkpoint``); at the end of a partition nothing comes after them. The
test leaves the same state on purpose: decided records, then more records with the
group's offsets committed past them while no worker runs, on the partitions already
applied and on some no worker ever applied (no mark: those count from their log start).
The restarted worker is handed nothing by faust, and its checkpoint must see each
partition's end past its mark (or log start) and seek back there, so each is decided once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.agents import (
    Workers,
    applied_marks,
    by_transaction,
    changelog_states,
    commit_group,
    last_offsets,
    produce,
    replayed_states,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_records_committed_but_never_decided_at_a_partitions_end_are_decided_once(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.env = {**workers.env, "SENTINEL_AGENTS_STALL_S": "2"}
    workers.start()
    before = transactions(accounts=6, per_account=5, start=datetime.now(UTC) - timedelta(hours=3))
    produce(prefix, before)
    wait_for_decisions(prefix, {t.transaction_id for t in before})
    workers.stop_all()

    applied_before = set(applied_marks(prefix))
    # 24 accounts: the first 6 on the partitions applied above, the others also on some
    # partitions never applied (no mark to compare a committed offset with).
    skipped = transactions(accounts=24, per_account=3, start=datetime.now(UTC) - timedelta(hours=1))
    produce(prefix, skipped)
    assert set(last_offsets(prefix)) - applied_before, "no partition without a mark"
    # As faust does when it takes a dropped record for an acknowledged gap.
    commit_group(prefix, {p: last + 1 for p, last in last_offsets(prefix).items()})
    workers.start()

    expected = {t.transaction_id for t in [*before, *skipped]}
    decisions = wait_for_decisions(prefix, expected, timeout=60)
    grouped = dict(by_transaction(decisions))
    assert set(grouped) == expected
    assert all(len(ds) == 1 for ds in grouped.values())
    workers.stop_all()
    assert changelog_states(prefix) == replayed_states(prefix)
    assert applied_marks(prefix) == last_offsets(prefix)
