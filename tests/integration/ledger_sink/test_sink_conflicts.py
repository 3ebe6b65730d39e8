"""A reused transaction id with other content, against the real broker and database (issue
18, item 8): dead-lettered as ``conflicting_duplicate``, whichever account it names, with
nothing booked for it; a redelivery with the same content stays a harmless duplicate."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from ledger_sink.settings import SinkSettings
from ledger_sink.testing import decision, transaction
from ledger_sink.verify import verify_ledger
from schemas.codec import decode_dead_letter, encode_decision
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Decision
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    counts,
    produce,
    read_all,
    sink_thread,
    wait_until,
)

pytestmark = pytest.mark.integration


def settings(topics: dict[str, TopicSpec], dsn: str) -> SinkSettings:
    return SinkSettings(
        group_id="sink",
        batch_size=40,
        poll_timeout_s=0.1,
        stats_interval_ms=0,
        kafka=KafkaConnection(topic_prefix=topics["decisions"].name.removesuffix("decisions")),
        postgres=PostgresConnection(dsn=dsn),
    )


def keyed(decisions: list[Decision]) -> list[tuple[bytes, bytes]]:
    return [(d.account_id.encode(), encode_decision(d)) for d in decisions]


def test_a_reused_transaction_id_is_dead_lettered_and_never_booked(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    original = decision(transaction("acct-a", "10.00"))
    tid = original.transaction_id
    # The same id for the same account with another amount, and for another account.
    other_amount = decision(transaction("acct-a", "999.00", transaction_id=tid))
    other_account = decision(transaction("acct-b", "10.00", transaction_id=tid))
    # The same transaction decided again (a redelivery): another decision time, same content.
    again = replace(original, decided_at=original.decided_at + timedelta(seconds=5))
    fillers = [decision(transaction("acct-c", f"{n}.00")) for n in range(1, 6)]
    # The first booking wins, and only one partition orders records: the conflict in the
    # original's batch is its own account's (same key, same partition, after it); the other
    # account's (another partition, which a poll may bring first) comes once it is booked.
    produce(project_topics["decisions"].name, keyed([original, other_amount, *fillers, again]))

    with sink_thread(settings(project_topics, ledger_db)):
        assert wait_until(lambda: counts(ledger_db)["ledger_entries"] >= 6, 30)
        assert wait_until(lambda: len(read_all(project_topics["dead-letter"].name)) >= 1, 20)
        produce(project_topics["decisions"].name, keyed([other_account]))
        assert wait_until(lambda: len(read_all(project_topics["dead-letter"].name)) >= 2, 20)

    letters = [decode_dead_letter(r.value) for r in read_all(project_topics["dead-letter"].name)]
    assert sorted(letter.key for letter in letters) == [b"acct-a", b"acct-b"]
    assert {letter.error_code for letter in letters} == {"conflicting_duplicate"}
    assert all(tid in letter.error_message for letter in letters)
    with psycopg.connect(ledger_db) as conn:
        booked = conn.execute(
            "SELECT account_id, amount FROM ledger_entries WHERE transaction_id = %s", [tid]
        ).fetchall()
        assert booked == [("acct-a", Decimal("10.0000"))]
        assert conn.execute(
            "SELECT count(*) FROM balances WHERE account_id = 'acct-b'"
        ).fetchone() == (0,)
    with psycopg.connect(ledger_db) as conn:
        assert verify_ledger(conn).broken is None
    assert counts(ledger_db)["decisions"] == 6
