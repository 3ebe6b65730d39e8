"""kill -9 of the broker leading most partitions of ``transactions`` and ``decisions`` on a
private 3-broker cluster, with traffic flowing through the whole pipeline (producer ->
agent worker -> ledger sink -> PostgreSQL, and the webhook dispatcher), then its restart.

Asserted: every accepted transaction decided exactly once in the ledger, none decided that
was never sent, every webhook event accepted exactly once. The latency blip and the time to
recover are printed, never asserted (shared machines): ``make bench-brokers`` measures them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.broker_faults import blip, pipeline_on_cluster

pytestmark = [pytest.mark.faults, pytest.mark.slow]

RATE = 40  # tx/s: enough to be mid-stream at the kill, light on two shared cores


def test_the_leading_broker_killed_and_restarted_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    with pipeline_on_cluster(tmp_path, RATE, seconds=600) as pipeline:
        cluster = pipeline.cluster
        time.sleep(5)
        victim = cluster.node(cluster.leader_of_most(pipeline.topics))
        fault_at = time.time()
        assert victim.kill()
        time.sleep(5)
        victim.start()
        cluster.await_answers(victim)
        fault_end = time.time()
        time.sleep(8)
        outcome = pipeline.finish(timeout_s=120)
        lost = outcome.lost()
        print(victim.name, lost, blip(pipeline, fault_at, fault_end))  # noqa: T201 - figures
        assert lost["accepted"] > RATE * 10
        assert {k: v for k, v in lost.items() if k != "accepted"} == {
            "refused_by_the_producer": 0,
            "not_in_ledger": 0,
            "in_ledger_twice": 0,
            "in_ledger_never_sent": 0,
            "webhook_events_missing": 0,
            "webhook_events_accepted_twice": 0,
        }, pipeline.log_tail()
