"""The ledger in a real database: append-only for everyone, one entry per transaction, and a
chain the database checks on insert and hashchain verifies after a round trip."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors
from psycopg.rows import dict_row

from ledger_sink.errors import BROKEN_CHAIN_SQLSTATE, IMMUTABLE_ROW_SQLSTATE
from ledger_sink.hashchain import LedgerEntry, seal, verify_chain
from schemas.records import decision_id_for

pytestmark = pytest.mark.integration

COLUMNS = [f.name for f in fields(LedgerEntry)]
INSERT = (
    f"INSERT INTO ledger_entries ({', '.join(COLUMNS)}) "  # noqa: S608 - fixed column names
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
)
SELECT = (
    f"SELECT {', '.join(COLUMNS)} FROM ledger_entries "  # noqa: S608 - fixed column names
    "WHERE account_id = %s ORDER BY seq"
)


def decided(conn: psycopg.Connection, account_id: str) -> tuple[str, str]:
    """A new transaction of `account_id` with its decision; (transaction_id, decision_id)."""
    transaction_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO accounts (account_id) VALUES (%s) ON CONFLICT DO NOTHING", (account_id,)
    )
    conn.execute(
        "INSERT INTO transactions (transaction_id, account_id, card_token, amount, currency,"
        " merchant_id, country, channel, event_ts, type)"
        " VALUES (%s, %s, 'tok_1', 12.5, 'EUR', 'm-1', 'FR', 'POS', now(), 'debit')",
        (transaction_id, account_id),
    )
    decision_id = decision_id_for(transaction_id)
    conn.execute(
        "INSERT INTO decisions (decision_id, transaction_id, account_id, outcome, risk_score,"
        " ingested_at, decided_at) VALUES (%s, %s, %s, 'APPROVE', 0.1, now(), now())",
        (decision_id, transaction_id, account_id),
    )
    return transaction_id, decision_id


def entry(conn: psycopg.Connection, account_id: str, seq: int, prev: bytes | None) -> LedgerEntry:
    """A sealed entry for a new decided transaction; amounts and times as a sink might pass."""
    transaction_id, decision_id = decided(conn, account_id)
    moment = datetime.now(timezone(timedelta(hours=5, minutes=30))) + timedelta(microseconds=seq)
    content = LedgerEntry(
        account_id=account_id,
        seq=seq,
        transaction_id=transaction_id,
        decision_id=decision_id,
        outcome="APPROVE",
        amount=Decimal("12.5"),
        currency="EUR",
        direction="debit",
        balance_after=Decimal("-12.5") * seq,
        created_at=moment,
    )
    return seal(content, prev)


def chain(conn: psycopg.Connection, account_id: str, length: int) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    for seq in range(1, length + 1):
        entries.append(entry(conn, account_id, seq, entries[-1].entry_hash if entries else None))
    return entries


def insert(conn: psycopg.Connection, *entries: LedgerEntry) -> None:
    for item in entries:
        conn.execute(INSERT, [getattr(item, name) for name in COLUMNS])


def stored(conn: psycopg.Connection, account_id: str) -> list[LedgerEntry]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [LedgerEntry(**row) for row in cur.execute(SELECT, (account_id,))]


@pytest.fixture
def account() -> str:
    return f"acct-{uuid.uuid4()}"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET amount = 0 WHERE account_id = %(a)s",
        "UPDATE ledger_entries SET entry_hash = prev_hash WHERE account_id = %(a)s",
        "DELETE FROM ledger_entries WHERE account_id = %(a)s",
        "TRUNCATE ledger_entries CASCADE",
    ],
)
@pytest.mark.parametrize("role", ["application", "superuser"])
def test_the_database_refuses_to_change_or_remove_entries(
    db: psycopg.Connection,
    superuser_db: psycopg.Connection,
    account: str,
    statement: str,
    role: str,
) -> None:
    insert(db, *chain(db, account, 2))
    before = stored(db, account)
    conn = db if role == "application" else superuser_db
    with pytest.raises(errors.InsufficientPrivilege) as refused:
        conn.execute(statement, {"a": account})
    assert refused.value.sqlstate == IMMUTABLE_ROW_SQLSTATE
    assert "ledger_entries is refused: its rows are append-only" in str(refused.value)
    assert stored(db, account) == before


def test_a_second_entry_for_the_same_transaction_violates_the_unique_constraint(
    db: psycopg.Connection, account: str
) -> None:
    (first,) = chain(db, account, 1)
    insert(db, first)
    again = seal(
        LedgerEntry(**{name: getattr(first, name) for name in COLUMNS[:10]} | {"seq": 2}),
        first.entry_hash,
    )
    with pytest.raises(errors.UniqueViolation) as duplicate:
        insert(db, again)
    assert duplicate.value.diag.constraint_name == "ledger_entries_one_per_transaction"


def test_an_entry_that_does_not_extend_its_chain_is_refused(
    db: psycopg.Connection, account: str
) -> None:
    first, second, third = chain(db, account, 3)
    insert(db, first)
    with pytest.raises(errors.IntegrityConstraintViolation) as gap:
        insert(db, seal(third, second.entry_hash))
    assert gap.value.sqlstate == BROKEN_CHAIN_SQLSTATE
    assert "has no entry 2 before it" in str(gap.value)
    with pytest.raises(errors.IntegrityConstraintViolation) as wrong_link:
        insert(db, seal(second, third.entry_hash))
    assert "does not link to entry 1" in str(wrong_link.value)
    with pytest.raises(errors.CheckViolation):
        insert(db, seal(first, first.entry_hash))  # a first entry has no previous hash
    insert(db, second, third)
    assert verify_chain(stored(db, account)) is None


def test_a_whole_chain_may_arrive_in_one_statement_or_one_copy(db: psycopg.Connection) -> None:
    by_values, by_copy = f"acct-{uuid.uuid4()}", f"acct-{uuid.uuid4()}"
    entries = chain(db, by_values, 3)
    rows = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * len(entries))
    db.execute(
        INSERT.split(" VALUES ")[0] + " VALUES " + rows,
        [getattr(item, name) for item in entries for name in COLUMNS],
    )
    copied = chain(db, by_copy, 3)
    statement = f"COPY ledger_entries ({', '.join(COLUMNS)}) FROM STDIN"
    with db.cursor() as cur, cur.copy(statement) as copy:
        for item in copied:
            copy.write_row([getattr(item, name) for name in COLUMNS])
    for account_id, written in ((by_values, entries), (by_copy, copied)):
        rows = stored(db, account_id)
        assert [row.entry_hash for row in rows] == [item.entry_hash for item in written]
        assert verify_chain(rows) is None


def test_a_chain_read_back_from_the_database_verifies(db: psycopg.Connection, account: str) -> None:
    insert(db, *chain(db, account, 5))
    rows = stored(db, account)
    # Stored values differ in form (scale 4, UTC, uuid.UUID) but not in value.
    assert rows[0].amount.as_tuple().exponent == -4
    assert isinstance(rows[0].decision_id, uuid.UUID)
    assert verify_chain(rows) is None


def test_tampering_around_the_triggers_is_caught_by_verification(
    db: psycopg.Connection, superuser_db: psycopg.Connection, account: str
) -> None:
    insert(db, *chain(db, account, 4))
    # Only a superuser can switch triggers off for a session; verification must still see it.
    superuser_db.execute("SET session_replication_role = replica")
    superuser_db.execute(
        "UPDATE ledger_entries SET amount = 1250 WHERE account_id = %s AND seq = 3", (account,)
    )
    superuser_db.execute("RESET session_replication_role")
    broken = verify_chain(stored(db, account))
    assert broken is not None
    assert (broken.position, broken.seq) == (2, 3)


def test_a_balance_points_at_its_account_s_last_entry(db: psycopg.Connection, account: str) -> None:
    entries = chain(db, account, 2)
    insert(db, *entries)
    (last_id,) = db.execute(
        "SELECT entry_id FROM ledger_entries WHERE account_id = %s AND seq = 2", (account,)
    ).fetchone() or (None,)
    db.execute(
        "INSERT INTO balances (account_id, balance, currency, last_entry_id)"
        " VALUES (%s, %s, %s, %s)",
        (account, entries[-1].balance_after, "EUR", last_id),
    )
    row = db.execute("SELECT balance, currency FROM balances WHERE account_id = %s", (account,))
    assert row.fetchone() == (Decimal("-25.0000"), "EUR")
    other = f"acct-{uuid.uuid4()}"
    db.execute("INSERT INTO accounts (account_id) VALUES (%s)", (other,))
    with pytest.raises(errors.ForeignKeyViolation):
        db.execute(
            "INSERT INTO balances (account_id, currency, last_entry_id) VALUES (%s, 'EUR', -1)",
            (other,),
        )
