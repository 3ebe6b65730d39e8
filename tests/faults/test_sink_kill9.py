"""SIGKILL of a sink process mid-stream, then a restart: the ledger ends exact — every
decision once, balances to the cent, every chain verifying — and SIGTERM exits cleanly."""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
import pytest

from ledger_sink.verify import verify_ledger
from schemas.codec import encode_decision
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    balances,
    counts,
    expected_balances,
    ledger_count,
    migrated_database,
    produce,
    random_decisions,
    sink_env,
    sink_process,
    stop_gracefully,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TOTAL = 3_000


def test_a_killed_sink_restarts_into_an_exact_ledger(
    project_topics: dict[str, TopicSpec], tmp_path: Path
) -> None:
    decisions = random_decisions(TOTAL)
    topic = project_topics["decisions"].name
    produce(topic, [(d.account_id.encode(), encode_decision(d)) for d in decisions])
    log = tmp_path / "sink.log"
    with migrated_database() as dsn:
        # The restarted process keeps its static member id, as a restarted pod would: it
        # takes the partitions back at once rather than after the dead one's session timeout.
        env = sink_env(topic.removesuffix("decisions"), dsn, SENTINEL_SINK_INSTANCE_ID="sink-0")
        first = sink_process(env, log)
        try:
            assert wait_until(lambda: ledger_count(dsn) >= TOTAL // 5, 60), log.read_text()
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_kill = ledger_count(dsn)
        assert at_kill < TOTAL, "the sink finished before it could be killed mid-stream"

        second = sink_process(env, log)
        try:
            assert wait_until(lambda: ledger_count(dsn) >= TOTAL, 60), log.read_text()[-3000:]
        finally:
            assert stop_gracefully(second) == 0, log.read_text()[-3000:]

        got = counts(dsn)
        assert got["transactions"] == got["decisions"] == got["ledger_entries"] == TOTAL
        assert got["analytics.fact_decisions"] == TOTAL
        assert balances(dsn) == expected_balances(decisions)
        with psycopg.connect(dsn) as conn:
            assert verify_ledger(conn).broken is None
