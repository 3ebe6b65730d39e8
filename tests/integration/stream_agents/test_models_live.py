"""Model promotion and shadow scoring on the real broker: a running worker follows the models
topic without a restart, and a challenger's scores reach the decisions and the ledger."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from fraudsim.registry import current_version
from ledger_sink.settings import SinkSettings
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Decision
from tests.integration.ledger_sink.support import migrated_database, sink_thread, wait_until
from tests.support.agents import (
    SENTINEL,
    Workers,
    produce,
    transactions,
    wait_for_decisions,
)
from tests.support.models import announce_model, train_tiny_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def models_cli(workers: Workers, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own console script
        [SENTINEL, "models", *args], env=workers.env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def decide_wave(prefix: str, wave: int) -> list[Decision]:
    """A few new transactions, and their decisions once every one has one."""
    start = datetime.now(UTC) - timedelta(hours=1) + timedelta(minutes=5 * wave)
    txs = transactions(accounts=3, per_account=2, start=start)
    produce(prefix, txs)
    ids = {t.transaction_id for t in txs}
    decided = [d for d in wait_for_decisions(prefix, ids) if d.transaction_id in ids]
    assert {d.transaction_id for d in decided} == ids
    return decided


def until_wave(
    prefix: str, done: Callable[[list[Decision]], bool], timeout_s: float = 90
) -> list[Decision]:
    """Waves of transactions until one is decided as ``done`` wants (the swap is asynchronous:
    a wave produced just after an announcement may still meet the previous model)."""
    deadline = time.monotonic() + timeout_s
    wave = 0
    while True:
        wave += 1
        decided = decide_wave(prefix, wave)
        if done(decided) or time.monotonic() > deadline:
            return decided


def test_a_promotion_announced_on_the_topic_is_picked_up_without_a_restart(
    agents: tuple[str, Workers], tmp_path: Path
) -> None:
    prefix, workers = agents
    registry = tmp_path / "models"
    train_tiny_model(registry, "tiny-2", rounds=3)
    worker = workers.start()
    assert {d.model_version for d in decide_wave(prefix, 0)} == {"tiny-1"}

    out = models_cli(workers, "promote", "tiny-2")
    assert "tiny-2 is champion" in out and current_version(registry) == "tiny-2"
    decided = until_wave(prefix, lambda ds: {d.model_version for d in ds} == {"tiny-2"})
    assert {d.model_version for d in decided} == {"tiny-2"}
    assert worker.poll() is None  # the same process throughout: no restart


def test_a_starting_worker_decides_with_the_announced_champion_from_its_first_batch(
    agents: tuple[str, Workers], tmp_path: Path
) -> None:
    prefix, workers = agents
    # CURRENT (the offline pointer) ends up naming tiny-1b: the worker follows the topic.
    announce_model(prefix, train_tiny_model(tmp_path / "models", "tiny-2", rounds=3))
    train_tiny_model(tmp_path / "models", "tiny-1b")
    workers.start()
    assert {d.model_version for d in decide_wave(prefix, 0)} == {"tiny-2"}


def test_a_challengers_scores_reach_the_decisions_and_the_ledger_and_can_be_cleared(
    agents: tuple[str, Workers], tmp_path: Path
) -> None:
    prefix, workers = agents
    train_tiny_model(tmp_path / "models", "tiny-shadow", rounds=3)
    workers.start()
    models_cli(workers, "challenge", "tiny-shadow")

    def shadowed(ds: list[Decision]) -> bool:
        return {d.challenger_model_version for d in ds} == {"tiny-shadow"}

    decided = until_wave(prefix, shadowed)
    assert shadowed(decided)
    assert {d.model_version for d in decided} == {"tiny-1"}
    assert all(d.challenger_score is not None and 0 <= d.challenger_score <= 1 for d in decided)
    assert [d.challenger_score for d in decided] != [d.risk_score for d in decided]

    with migrated_database() as dsn:
        settings = SinkSettings(
            group_id="sink",
            poll_timeout_s=0.1,
            stats_interval_ms=0,
            kafka=KafkaConnection(topic_prefix=prefix),
            postgres=PostgresConnection(dsn=dsn),
        )
        wanted = {d.transaction_id: d for d in decided}
        with sink_thread(settings):
            assert wait_until(lambda: set(wanted) <= set(ledger_rows(dsn)), 60)
        rows = ledger_rows(dsn)
    for tid, decision in wanted.items():
        assert rows[tid] == ("tiny-1", "tiny-shadow", decision.challenger_score)

    models_cli(workers, "challenge", "--clear")
    cleared = until_wave(prefix, lambda ds: {d.challenger_model_version for d in ds} == {None})
    assert {(d.challenger_model_version, d.challenger_score) for d in cleared} == {(None, None)}


def ledger_rows(dsn: str) -> dict[str, tuple[str | None, str | None, float | None]]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT transaction_id, model_version, challenger_model_version, challenger_score"
            " FROM decisions"
        ).fetchall()
    return {tid: (model, challenger, score) for tid, model, challenger, score in found}


def test_a_worker_whose_announced_champion_cannot_load_refuses_to_start(
    agents: tuple[str, Workers], tmp_path: Path
) -> None:
    prefix, workers = agents
    announce_model(prefix, "not-in-this-registry")
    proc = workers.start(wait=False)
    assert proc.wait(timeout=120) == 1
    log = (tmp_path / "worker-0.log").read_text()
    assert "announced champion cannot be loaded" in log and "not-in-this-registry" in log
