"""Pins what the default of two standby replicas rests on: how faust's assignor hands a
dead worker's partitions to the survivors (faust-streaming 0.15.3, ``CopartitionedAssignor``).

faust keeps each survivor within ceil(partitions / survivors) actives before it prefers a
standby, so with one standby replica a dead worker's partitions whose standbys crowd onto
one survivor overflow to another that never followed them: a cold takeover, which re-reads
the partition's whole changelog while every partition of that worker waits
(bench/results/failover_1m_standby1.json). With two replicas on three workers each
survivor follows every partition, and none goes cold. If faust's assignor changes, these
tests say whether the default still holds.
"""

from __future__ import annotations

import pytest
from faust.assignor.client_assignment import CopartitionedAssignment
from faust.assignor.copartitioned_assignor import CopartitionedAssignor

PARTITIONS = 12

Assignment = dict[str, tuple[set[int], set[int]]]


def assign(previous: Assignment, replicas: int) -> Assignment:
    clients = {
        name: CopartitionedAssignment(
            actives=set(actives), standbys=set(standbys), topics={"transactions"}
        )
        for name, (actives, standbys) in previous.items()
    }
    result = CopartitionedAssignor({"transactions"}, clients, PARTITIONS, replicas).get_assignment()
    return {name: (set(a.actives), set(a.standbys)) for name, a in result.items()}


def cold_takeovers(workers: int, replicas: int) -> list[int]:
    """For each worker killed in turn: how many of its partitions the survivors took
    without having followed them as a standby."""
    group = assign({f"worker-{n}": (set(), set()) for n in range(workers)}, replicas)
    cold = []
    for dead in group:
        survivors = {name: group[name] for name in group if name != dead}
        after = assign(survivors, replicas)
        cold.append(
            sum(
                1
                for partition in group[dead][0]
                for name, (actives, _) in after.items()
                if partition in actives and partition not in group[name][1]
            )
        )
    return cold


@pytest.mark.parametrize("workers", [2, 3])
def test_two_standby_replicas_make_every_takeover_warm(workers: int) -> None:
    assert cold_takeovers(workers, replicas=2) == [0] * workers


def test_one_standby_replica_leaves_a_cold_takeover_on_three_workers() -> None:
    # Why the default is not one: any of the three workers dying sends a partition cold.
    assert all(cold >= 1 for cold in cold_takeovers(3, replicas=1))
