"""A private PostgreSQL (own port, own data) restarted under a running sink: it waits,
retries the batch, and ends with every decision written exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from deploy.local.credentials import new_password
from deploy.local.postgres import PostgresService
from deploy.local.process import wait_until as service_answers
from deploy.local.settings import StackSettings
from ledger_sink.migrate import upgrade
from ledger_sink.verify import verify_ledger
from schemas.codec import encode_decision
from schemas.connections import PostgresConnection
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    balances,
    counts,
    expected_balances,
    ledger_count,
    produce,
    random_decisions,
    sink_env,
    sink_process,
    stop_gracefully,
    wait_until,
)
from tests.support.ports import free_port

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TOTAL = 3_000


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[tuple[PostgresService, str]]:
    """A PostgreSQL server of this test's own, migrated; its DSN as the application role."""
    port = free_port()
    connection = PostgresConnection(
        dsn=f"postgresql://sentinel:{new_password()}@127.0.0.1:{port}/sentinel",
        admin_dsn=f"postgresql://postgres:{new_password()}@127.0.0.1:{port}/postgres",
    )
    settings = StackSettings(
        dir=tmp_path / "stack", postgres=connection, postgres_shared_buffers="32MB"
    )
    service = PostgresService(settings)
    service.prepare()
    try:
        service.start()
        assert service_answers(service.answers, 60), "private PostgreSQL did not start"
        service.after_start()
        dsn = connection.dsn.get_secret_value()
        upgrade(dsn)
        yield service, dsn
    finally:
        service.stop()
        service.purge()


def test_the_sink_survives_a_postgres_restart_mid_stream(
    project_topics: dict[str, TopicSpec],
    private_postgres: tuple[PostgresService, str],
    tmp_path: Path,
) -> None:
    service, dsn = private_postgres
    decisions = random_decisions(TOTAL)
    topic = project_topics["decisions"].name
    produce(topic, [(d.account_id.encode(), encode_decision(d)) for d in decisions])
    log = tmp_path / "sink.log"
    sink = sink_process(sink_env(topic.removesuffix("decisions"), dsn), log)
    try:
        assert wait_until(lambda: ledger_count(dsn) >= TOTAL // 6, 60), log.read_text()
        service.stop()  # fast shutdown: the sink's connection is cut mid-batch
        at_stop = ledger_count(dsn)
        time.sleep(2)
        assert sink.poll() is None, "the sink must wait for the database, not exit"
        service.start()
        assert service_answers(service.answers, 60)
        assert wait_until(lambda: ledger_count(dsn) >= TOTAL, 90), log.read_text()[-3000:]
    finally:
        assert stop_gracefully(sink) == 0, log.read_text()[-3000:]
    assert at_stop == -1
    assert "transient failure; retrying" in log.read_text()
    got = counts(dsn)
    assert got["transactions"] == got["decisions"] == got["ledger_entries"] == TOTAL
    assert balances(dsn) == expected_balances(decisions)
    with psycopg.connect(dsn) as conn:
        assert verify_ledger(conn).broken is None
