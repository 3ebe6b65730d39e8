"""Agent workers killed with SIGKILL mid-stream, and added while traffic flows.

After a crash the group re-reads what was not committed: every transaction must still end
with decisions that all carry the same decision id, and the feature state in the changelog
must equal a recomputation over the source records, i.e. no event counted twice. These
tests found faust skipping records around a rebalance (``stream_agents.checkpoint``): each
partition's applied mark must reach its last offset.

The partitions-come-back test found faust dropping changelog records the table recovery
had sought back to, so the recovery waited forever (``stream_agents.faust_edge``).

Both table stores: memory (the default) rebuilds the whole changelog after the crash;
rocksdb restarts on the killed worker's data dir, with its local state possibly ahead of
the changelog, and reads only the changelog past the offsets it persisted.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.agents import (
    Workers,
    assert_decided_identically,
    assert_state_is_the_source_replayed,
    produce,
    transactions,
    wait_for_decisions,
)
from tests.support.ports import free_port

pytestmark = [pytest.mark.faults, pytest.mark.slow]
STORES = pytest.mark.parametrize("store", ["memory://", "rocksdb://"])


def produce_slowly(prefix: str, txs: list, chunks: int, pause_s: float) -> None:
    size = len(txs) // chunks + 1
    for i in range(0, len(txs), size):
        produce(prefix, txs[i : i + size])
        time.sleep(pause_s)


@STORES
def test_sigkill_mid_stream_repeats_decisions_identically_and_counts_nothing_twice(
    agents: tuple[str, Workers], store: str
) -> None:
    prefix, workers = agents
    # The restart shares the killed worker's data dir: a rocksdb store finds its files.
    workers.env = {**workers.env, "SENTINEL_AGENTS_STORE": store}
    first = workers.start()
    txs = transactions(accounts=40, per_account=40)
    feeder = threading.Thread(target=produce_slowly, args=(prefix, txs, 20, 0.2))
    feeder.start()
    time.sleep(2.0)
    first.send_signal(signal.SIGKILL)
    first.wait()
    workers.start()
    feeder.join()

    assert_decided_identically(prefix, {t.transaction_id for t in txs}, timeout=180)
    workers.stop_all()
    assert_state_is_the_source_replayed(prefix)


def decided_by(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    line = next(x for x in text.splitlines() if x.startswith("sentinel_agent_decisions_total "))
    return float(line.split()[1])


@STORES
def test_second_and_third_workers_share_the_partitions_and_keep_state_correct(
    agents: tuple[str, Workers], store: str, tmp_path: Path
) -> None:
    prefix, workers = agents
    ports = [free_port() for _ in range(3)]
    txs = transactions(accounts=48, per_account=30)
    phases = [
        txs[: len(txs) // 3],
        txs[len(txs) // 3 : 2 * len(txs) // 3],
        txs[2 * len(txs) // 3 :],
    ]
    for n, (port, phase) in enumerate(zip(ports, phases, strict=True)):
        workers.env = {
            **workers.env,
            "SENTINEL_AGENTS_METRICS_PORT": str(port),
            "SENTINEL_AGENTS_STORE": store,
            # Each worker its own data dir, as on separate machines: rocksdb locks its files.
            "SENTINEL_AGENTS_DATA_DIR": str(tmp_path / f"data-{n}"),
        }
        workers.start()
        produce_slowly(prefix, phase, 5, 0.3)
    expected = {t.transaction_id for t in txs}
    assert_decided_identically(prefix, expected, timeout=180, same_outcome=False)
    shares = [decided_by(port) for port in ports]
    assert all(share > 0 for share in shares), shares
    workers.stop_all()
    assert_state_is_the_source_replayed(prefix)


@STORES
def test_partitions_that_come_back_bring_the_state_written_while_they_were_away(
    agents: tuple[str, Workers], store: str, tmp_path: Path
) -> None:
    """A second worker takes half the partitions, decides, and stops: the first gets them
    back. With rocksdb its files for them must be current by then (it follows them as a
    standby replica, else it reads the changelog past what it persisted), or it would
    decide from old state and write that to the changelog."""
    prefix, workers = agents
    port = free_port()
    txs = transactions(accounts=48, per_account=30)
    phases = [
        txs[: len(txs) // 3],
        txs[len(txs) // 3 : 2 * len(txs) // 3],
        txs[2 * len(txs) // 3 :],
    ]

    def start(n: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        data = str(tmp_path / f"data-{n}")
        workers.env = {
            **workers.env,
            **extra,
            "SENTINEL_AGENTS_STORE": store,
            "SENTINEL_AGENTS_DATA_DIR": data,
        }
        return workers.start()

    start(0, {})
    produce_slowly(prefix, phases[0], 5, 0.3)
    second = start(1, {"SENTINEL_AGENTS_METRICS_PORT": str(port)})
    produce_slowly(prefix, phases[1], 5, 0.3)
    wait_for_decisions(prefix, {t.transaction_id for t in phases[0] + phases[1]}, timeout=180)
    assert decided_by(port) > 0
    second.terminate()
    second.wait(60)
    produce_slowly(prefix, phases[2], 5, 0.3)

    expected = {t.transaction_id for t in txs}
    assert_decided_identically(prefix, expected, timeout=180, same_outcome=False)
    workers.stop_all()
    assert_state_is_the_source_replayed(prefix)
