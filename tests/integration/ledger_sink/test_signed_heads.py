"""Signed chain heads on the real Kafka and PostgreSQL: the sink's writer publishes them on the
compacted heads topic, and `sentinel ledger verify` refuses a chain an insider re-sealed
inside the database (rows, sums, balance row and source transaction all made consistent),
which the hash chain alone cannot tell from the real one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from typer.testing import CliRunner

from ledger_sink import heads
from ledger_sink.head_publisher import SigningWriter
from ledger_sink.kafka_io import DurableProducer
from ledger_sink.settings import LedgerSigning, SinkSettings
from ledger_sink.testing import decision, transaction
from ledger_sink.writer import LedgerWriter
from schemas.codec import encode_decision
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import TopicSpec
from sentinel_cli.main import app
from tests.integration.ledger_sink.support import (
    counts,
    migrated_database,
    produce,
    read_all,
    reseal_from,
    sink_thread,
    wait_until,
)

pytestmark = pytest.mark.integration

ACCOUNTS = ("acct-a", "acct-b", "acct-c")
KEY = secrets.token_hex(32)


@pytest.fixture
def prefix(project_topics: dict[str, TopicSpec]) -> str:
    return project_topics["ledger-heads"].name.removesuffix("ledger-heads")


@pytest.fixture
def ledger_db(prefix: str) -> Iterator[str]:
    """Four entries per account, written through the signing writer (heads after each batch)."""
    with migrated_database() as dsn:
        producer = DurableProducer(KafkaConnection(), f"{prefix}ledger-heads")
        writer = SigningWriter(LedgerWriter(dsn), producer, KEY.encode(), interval_s=0)
        try:
            for n in range(4):
                writer.write([decision(transaction(a, f"{n + 1}.50")) for a in ACCOUNTS])
        finally:
            writer.close()
        yield dsn


@pytest.fixture
def tamper(ledger_db: str) -> Iterator[psycopg.Connection]:
    """A superuser session with triggers switched off: what an insider with the database's
    keys can do, and the signing key's holder cannot be."""
    admin = PostgresConnection().admin_dsn.get_secret_value()
    dbname = str(conninfo_to_dict(ledger_db)["dbname"])
    with psycopg.connect(make_conninfo(admin, dbname=dbname), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


def verify(dsn: str, prefix: str, key: str | None = KEY) -> tuple[int, str, str]:
    env = {"SENTINEL_POSTGRES_DSN": dsn, "SENTINEL_KAFKA_TOPIC_PREFIX": prefix, "COLUMNS": "250"}
    env["SENTINEL_LEDGER_SIGNING_KEY"] = key or ""
    if key is None:
        env.pop("SENTINEL_LEDGER_SIGNING_KEY")
    result = CliRunner().invoke(app, ["ledger", "verify"], env=env)
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def forge_tail(tamper: psycopg.Connection, account: str, seq: int, amount: Decimal) -> None:
    """Entry `seq`'s amount changed, its transaction too, and the chain re-sealed to the end."""
    tamper.execute(
        "UPDATE transactions SET amount = %s WHERE transaction_id ="
        " (SELECT transaction_id FROM ledger_entries WHERE account_id = %s AND seq = %s)",
        (amount, account, seq),
    )
    reseal_from(tamper, account, seq, amount)


def test_an_intact_ledger_verifies_through_its_signed_heads(ledger_db: str, prefix: str) -> None:
    code, out, err = verify(ledger_db, prefix)
    assert code == 0, err
    assert "every chain holds" in out
    assert " 3 " in out  # signed heads checked, one per account


def test_a_forged_tail_resealed_to_the_end_no_longer_verifies(
    ledger_db: str, prefix: str, tamper: psycopg.Connection
) -> None:
    forge_tail(tamper, "acct-b", 2, Decimal("0.0100"))
    # Without the signed heads the forgery is perfect: every check of the database holds.
    unsigned = verify(ledger_db, prefix, key=None)
    assert unsigned[0] == 0, unsigned[2]
    code, _, err = verify(ledger_db, prefix)
    assert code == 1
    assert "account acct-b seq 4" in err
    assert "re-sealed after it was signed" in err


def test_entries_removed_below_a_signed_head_are_found(
    ledger_db: str, prefix: str, tamper: psycopg.Connection
) -> None:
    # The tail goes, and the balance row is pointed at the new last entry: only the signed
    # head still knows there was a seq 4.
    tamper.execute("DELETE FROM ledger_entries WHERE account_id = 'acct-c' AND seq = 4")
    tamper.execute(
        "UPDATE balances b SET last_entry_id = e.entry_id, balance = e.balance_after"
        " FROM ledger_entries e WHERE e.account_id = 'acct-c' AND e.seq = 3"
        " AND b.account_id = 'acct-c'"
    )
    assert verify(ledger_db, prefix, key=None)[0] == 0
    code, _, err = verify(ledger_db, prefix)
    assert code == 1
    assert "account acct-c seq 4" in err
    assert "ends before its signed head" in err


def test_a_head_published_by_someone_without_the_key_is_refused(
    ledger_db: str, prefix: str, tamper: psycopg.Connection
) -> None:
    forge_tail(tamper, "acct-a", 1, Decimal("0.0100"))
    entry_id, entry_hash = tamper.execute(
        "SELECT entry_id, entry_hash FROM ledger_entries WHERE account_id = 'acct-a' AND seq = 4"
    ).fetchone()  # type: ignore[misc]
    forged = heads.Head("acct-a", entry_id, 4, bytes(entry_hash))
    now = datetime.now(UTC)
    # Signed with a key of the forger's own, then with the real key id but a made-up MAC.
    own = heads.sign(forged, secrets.token_bytes(32), now)
    produce(f"{prefix}ledger-heads", [(b"acct-a", heads.encode(own))])
    code, _, err = verify(ledger_db, prefix)
    assert code == 1
    assert "account acct-a seq 4: the signed head is refused: signed with another key" in err
    mimic = replace(own, key_id=heads.key_id(KEY.encode()))
    produce(f"{prefix}ledger-heads", [(b"acct-a", heads.encode(mimic))])
    code, _, err = verify(ledger_db, prefix)
    assert code == 1
    assert "signature does not match its contents" in err


def test_the_running_sink_signs_what_it_writes_and_stops_with_every_head_published(
    project_topics: dict[str, TopicSpec], prefix: str
) -> None:
    """`sentinel sink run`'s loop, configured by its settings (key, interval), publishes the
    heads of what it committed; verify then checks each account through its signed head."""
    decisions = [decision(transaction(a, f"{n}.10")) for n in range(1, 6) for a in ACCOUNTS]
    produce(f"{prefix}decisions", [(d.account_id.encode(), encode_decision(d)) for d in decisions])
    with migrated_database() as dsn:
        config = SinkSettings(
            poll_timeout_s=0.1,
            stats_interval_ms=0,
            kafka=KafkaConnection(topic_prefix=prefix),
            postgres=PostgresConnection(dsn=dsn),  # type: ignore[arg-type]
            signing=LedgerSigning(signing_key=KEY, heads_interval_s=3600),  # type: ignore[arg-type]
        )
        with sink_thread(config):
            assert wait_until(lambda: counts(dsn)["ledger_entries"] >= len(decisions), 30)
        # The interval never elapsed: the heads went out when the sink stopped.
        published = heads.newest([r.value or b"" for r in read_all(f"{prefix}ledger-heads")])
        assert {a: s.head.seq for a, s in published.items()} == dict.fromkeys(ACCOUNTS, 5)
        code, out, err = verify(dsn, prefix)
        assert code == 0, err
        assert " 3 " in out
