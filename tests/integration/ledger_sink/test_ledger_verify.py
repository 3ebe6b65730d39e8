"""`sentinel ledger verify` on a real database: a clean ledger passes; a row changed, a
tail removed, or a re-hashed entry whose arithmetic is off is named by account and seq."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import kwargs_row
from typer.testing import CliRunner, Result

from ledger_sink.hashchain import LedgerEntry, seal
from ledger_sink.testing import decision, transaction
from ledger_sink.writer import LedgerWriter
from schemas.connections import PostgresConnection
from sentinel_cli.main import app
from tests.integration.ledger_sink.support import migrated_database, reseal_from

pytestmark = pytest.mark.integration

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
ACCOUNTS = ("acct-a", "acct-b", "acct-c")


@pytest.fixture
def ledger_db() -> Iterator[str]:
    with migrated_database() as dsn:
        writer = LedgerWriter(dsn)
        try:
            for n in range(4):
                writer.write([decision(transaction(a, f"{n + 1}.50")) for a in ACCOUNTS])
        finally:
            writer.close()
        yield dsn


@pytest.fixture
def tamper(ledger_db: str) -> Iterator[psycopg.Connection]:
    """A superuser session with triggers (and foreign keys) switched off: around the guards."""
    admin = PostgresConnection().admin_dsn.get_secret_value()
    dbname = str(conninfo_to_dict(ledger_db)["dbname"])
    with psycopg.connect(make_conninfo(admin, dbname=dbname), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


class Verified:
    """The command's exit code and its stderr with line wrapping undone."""

    def __init__(self, result: Result) -> None:
        self.returncode = result.exit_code
        self.stderr = " ".join(result.stderr.split())


def verify(dsn: str) -> Verified:
    env = {"SENTINEL_POSTGRES_DSN": dsn, "COLUMNS": "250"}
    return Verified(CliRunner().invoke(app, ["ledger", "verify"], env=env))


def test_an_intact_ledger_verifies_through_the_sentinel_command(ledger_db: str) -> None:
    env = {"SENTINEL_POSTGRES_DSN": ledger_db, "COLUMNS": "250", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [SENTINEL, "ledger", "verify"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "every chain holds" in done.stdout
    assert "12" in done.stdout  # entries


def test_a_changed_amount_is_named_by_account_and_seq(
    ledger_db: str, tamper: psycopg.Connection
) -> None:
    tamper.execute(
        "UPDATE ledger_entries SET amount = 1250 WHERE account_id = 'acct-b' AND seq = 3"
    )
    done = verify(ledger_db)
    assert done.returncode == 1
    assert "account acct-b seq 3" in done.stderr
    assert "entry_hash does not match" in done.stderr


def test_a_removed_tail_is_found_through_the_balance_row(
    ledger_db: str, tamper: psycopg.Connection
) -> None:
    tamper.execute("DELETE FROM ledger_entries WHERE account_id = 'acct-c' AND seq = 4")
    done = verify(ledger_db)
    assert done.returncode == 1
    assert "account acct-c seq 4" in done.stderr
    assert "tail is missing" in done.stderr


def test_a_rehashed_entry_with_wrong_arithmetic_is_caught(
    ledger_db: str, tamper: psycopg.Connection
) -> None:
    with tamper.cursor(row_factory=kwargs_row(LedgerEntry)) as cur:
        cur.execute(
            "SELECT account_id, seq, transaction_id, decision_id, outcome, amount, currency,"
            " direction, balance_after, created_at, hash_version, prev_hash, entry_hash"
            " FROM ledger_entries WHERE account_id = 'acct-a' AND seq = 1"
        )
        first = cur.fetchone()
    assert first is not None
    # A forger who re-seals seq 1 keeps the links but not the arithmetic (and breaks seq 2).
    forged = seal(replace(first, amount=Decimal("0.5000")), None)
    tamper.execute(
        "UPDATE ledger_entries SET amount = %s, entry_hash = %s WHERE account_id = 'acct-a'"
        " AND seq = 1",
        (forged.amount, forged.entry_hash),
    )
    done = verify(ledger_db)
    assert done.returncode == 1
    assert "account acct-a seq 1" in done.stderr
    assert "balance_after -1.5000 where the previous balance" in done.stderr


def test_a_resealed_amount_that_is_not_its_transactions_is_caught(
    ledger_db: str, tamper: psycopg.Connection
) -> None:
    reseal_from(tamper, "acct-b", 2, Decimal("0.0100"))
    done = verify(ledger_db)
    assert done.returncode == 1
    assert "account acct-b seq 2" in done.stderr
    assert "amount 0.0100 where transaction" in done.stderr
    assert "(2.5000, APPROVE) gives 2.5000" in done.stderr


def test_an_outcome_its_decision_does_not_say_is_caught(
    ledger_db: str, tamper: psycopg.Connection
) -> None:
    tamper.execute("UPDATE decisions SET outcome = 'DECLINE' WHERE account_id = 'acct-c'")
    done = verify(ledger_db)
    assert done.returncode == 1
    assert "account acct-c seq 1" in done.stderr
    assert "outcome APPROVE where its decision says DECLINE" in done.stderr
