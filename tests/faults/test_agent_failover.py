"""Agent workers with static group membership killed with SIGKILL mid-stream: one restarted
at once under its instance id (it takes its partitions back without a rebalance), then one
left dead (the others take its partitions after the session timeout).

Only correctness is asserted here: every transaction decided, with one decision id, and
none decided that was never sent; the changelog equal to a recomputation. How fast the
partitions decide again is measured by ``make bench-failover``, never asserted (noisy
shared machines).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.agents import (
    Workers,
    assert_decided_identically,
    assert_state_is_the_source_replayed,
    produce,
    transactions,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def produce_slowly(prefix: str, txs: list, chunks: int, pause_s: float) -> None:
    size = len(txs) // chunks + 1
    for i in range(0, len(txs), size):
        produce(prefix, txs[i : i + size])
        time.sleep(pause_s)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_worker_killed_and_restarted_then_one_killed_for_good_lose_and_repeat_nothing(
    agents: tuple[str, Workers], store: str, tmp_path: Path
) -> None:
    prefix, workers = agents
    base = {**workers.env, "SENTINEL_AGENTS_STORE": store}

    def start(n: int, wait: bool = True) -> subprocess.Popen[bytes]:
        # Its own instance id and data dir, the same ones when it comes back.
        workers.env = {
            **base,
            "SENTINEL_AGENTS_INSTANCE_ID": f"worker-{n}",
            "SENTINEL_AGENTS_DATA_DIR": str(tmp_path / f"data-{n}"),
        }
        return workers.start(wait=wait)

    first, second = start(0), start(1)
    txs = transactions(accounts=40, per_account=40)
    feeder = threading.Thread(target=produce_slowly, args=(prefix, txs, 40, 0.3))
    feeder.start()
    time.sleep(3.0)
    kill(first)
    start(0, wait=False)  # at once, under the same instance id
    time.sleep(5.0)
    kill(second)  # for good: worker-0 takes its partitions after the session timeout
    feeder.join()

    assert_decided_identically(prefix, {t.transaction_id for t in txs}, timeout=120)
    workers.stop_all()
    assert_state_is_the_source_replayed(prefix)
