"""Constraints the schema enforces beyond the ledger: immutable rule history, contract shapes,
API key scopes, the PAN guard, and the pre-populated analytics dimensions."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import errors, sql

from ledger_sink.errors import BROKEN_CHAIN_SQLSTATE, IMMUTABLE_ROW_SQLSTATE
from schemas.pan import looks_like_pan

pytestmark = pytest.mark.integration

RULE_VERSION = (
    "INSERT INTO rule_versions (rule_id, version, name, expression, action, score_delta,"
    " priority, mode, author) VALUES (%s, %s, 'big abroad', 'amount > 5000', %s, %s, 10,"
    " 'active', 'analyst')"
)


def new_rule(db: psycopg.Connection, versions: int = 1) -> uuid.UUID:
    rule_id = uuid.uuid4()
    db.execute(
        "INSERT INTO rules (rule_id, name, created_by) VALUES (%s, %s, 'analyst')",
        (rule_id, f"rule {rule_id}"),
    )
    for version in range(1, versions + 1):
        db.execute(RULE_VERSION, (rule_id, version, "REVIEW", None))
    db.execute(
        "INSERT INTO rule_audit (rule_id, from_version, to_version, actor, action)"
        " VALUES (%s, NULL, 1, 'analyst', 'create')",
        (rule_id,),
    )
    return rule_id


@pytest.mark.parametrize("table", ["rule_versions", "rule_audit"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET rule_id = rule_id WHERE rule_id = %(r)s",
        "DELETE FROM {table} WHERE rule_id = %(r)s",
        "TRUNCATE {table} CASCADE",
    ],
)
def test_rule_history_cannot_be_rewritten(
    db: psycopg.Connection, table: str, statement: str
) -> None:
    rule_id = new_rule(db)
    query = sql.SQL(statement).format(table=sql.Identifier(table))
    with pytest.raises(errors.InsufficientPrivilege) as refused:
        db.execute(query, {"r": rule_id})
    assert refused.value.sqlstate == IMMUTABLE_ROW_SQLSTATE
    assert f"{table} is refused" in str(refused.value)
    count = sql.SQL("SELECT count(*) FROM {} WHERE rule_id = %s").format(sql.Identifier(table))
    counted = db.execute(count, (rule_id,))
    assert counted.fetchone() == (1,)


def test_a_rule_version_must_follow_the_previous_one(db: psycopg.Connection) -> None:
    rule_id = new_rule(db, versions=2)
    with pytest.raises(errors.IntegrityConstraintViolation) as gap:
        db.execute(RULE_VERSION, (rule_id, 4, "REVIEW", None))
    assert gap.value.sqlstate == BROKEN_CHAIN_SQLSTATE
    db.execute(RULE_VERSION, (rule_id, 3, "SCORE+0.2", 0.2))


@pytest.mark.parametrize(
    ("action", "score_delta"), [("SCORE+0.2", None), ("REVIEW", 0.2), ("FLAG", None)]
)
def test_a_rule_action_is_an_outcome_or_a_parsed_score_adjustment(
    db: psycopg.Connection, action: str, score_delta: float | None
) -> None:
    rule_id = new_rule(db)
    with pytest.raises(errors.CheckViolation):
        db.execute(RULE_VERSION, (rule_id, 2, action, score_delta))


def test_a_decision_outcome_outside_the_contract_is_refused(db: psycopg.Connection) -> None:
    with pytest.raises(errors.CheckViolation) as refused:
        db.execute(
            "INSERT INTO decisions (decision_id, transaction_id, account_id, outcome, risk_score,"
            " ingested_at, decided_at) VALUES (%s, 't', 'a', 'MAYBE', 0.5, now(), now())",
            (uuid.uuid4(),),
        )
    assert refused.value.diag.constraint_name == "decision_outcome_values"


TRANSACTION = {
    "transaction_id": "t",
    "account_id": "a",
    "card_token": "tok_1",
    "amount": "10.00",
    "currency": "EUR",
    "merchant_id": "m",
    "mcc": "5411",
    "country": "FR",
    "channel": "POS",
    "event_ts": "2026-11-30T12:00:00Z",
    "type": "debit",
    "lat": 48.85,
}


@pytest.mark.parametrize(
    "bad",
    [
        {"currency": "eur"},
        {"currency": "EU"},
        {"country": "FRA"},
        {"channel": "PHONE"},
        {"type": "chargeback"},
        {"amount": "-1"},
        {"mcc": "54"},
        {"lat": 91.0},
        {"card_token": "4111 1111 1111 1111"},
        {"card_token": ""},
        {"transaction_id": ""},
    ],
    ids=repr,
)
def test_a_transaction_outside_the_contract_is_refused(
    db: psycopg.Connection, bad: dict[str, Any]
) -> None:
    account_id = f"acct-{uuid.uuid4()}"
    db.execute("INSERT INTO accounts (account_id) VALUES (%s)", (account_id,))
    row = TRANSACTION | {"account_id": account_id, "transaction_id": str(uuid.uuid4())} | bad
    insert = sql.SQL("INSERT INTO transactions ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL(", ").join(sql.Placeholder() * len(row)),
    )
    # char(2) and char(3) refuse a longer value before any CHECK sees it.
    with pytest.raises((errors.CheckViolation, errors.StringDataRightTruncation)):
        db.execute(insert, list(row.values()))


def test_the_database_pan_guard_agrees_with_schemas_pan(migrated_db: str) -> None:
    digits = st.text(alphabet="0123456789 -", min_size=12, max_size=24)
    with psycopg.connect(migrated_db) as conn:

        @settings(max_examples=300, deadline=None)
        # PostgreSQL text cannot hold NUL.
        @given(
            st.one_of(
                digits,
                st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24),
            )
        )
        def agree(value: str) -> None:
            (in_sql,) = conn.execute("SELECT looks_like_pan(%s)", (value,)).fetchone() or (None,)
            assert in_sql == looks_like_pan(value)

        agree()
        for pan in ("4111111111111111", "5500-0000-0000-0004", "378282246310005"):
            assert conn.execute("SELECT looks_like_pan(%s)", (pan,)).fetchone() == (True,)


def api_key(db: psycopg.Connection, scopes: list[str], prefix: str = "sk_abcdefgh") -> None:
    secret = uuid.uuid4().bytes
    db.execute(
        "INSERT INTO api_keys (name, key_prefix, key_hash, scopes) VALUES ('k', %s, %s, %s)",
        (prefix, hashlib.sha256(secret).digest(), scopes),
    )


def test_api_key_scopes_are_a_non_empty_subset_of_ingest_read_admin(
    db: psycopg.Connection,
) -> None:
    api_key(db, ["ingest", "read", "admin"])
    for bad in (["ingest", "superuser"], [], ["Read"]):
        with pytest.raises(errors.CheckViolation) as refused:
            api_key(db, bad)
        assert refused.value.diag.constraint_name == "api_keys_scopes_known"


def test_an_api_key_hash_is_stored_once(db: psycopg.Connection) -> None:
    digest = hashlib.sha256(uuid.uuid4().bytes).digest()
    insert = (
        "INSERT INTO api_keys (name, key_prefix, key_hash, scopes)"
        " VALUES ('k', 'sk_abcdefgh', %s, '{read}')"
    )
    db.execute(insert, (digest,))
    with pytest.raises(errors.UniqueViolation):
        db.execute(insert, (digest,))


def test_dim_time_holds_every_minute_of_the_day(db: psycopg.Connection) -> None:
    stats = db.execute(
        "SELECT count(*), min(time_key), max(time_key), count(*) FILTER (WHERE is_night),"
        " bool_and(hour * 60 + minute = time_key) FROM analytics.dim_time"
    ).fetchone()
    assert stats == (1440, 0, 1439, 360, True)


def test_dim_channel_holds_the_contract_channels(db: psycopg.Connection) -> None:
    channels = db.execute("SELECT channel FROM analytics.dim_channel ORDER BY channel_key")
    assert channels.fetchall() == [("POS",), ("ECOM",), ("ATM",)]


def test_dim_date_derives_its_key_and_attributes_from_the_date(db: psycopg.Connection) -> None:
    row = db.execute(
        "INSERT INTO analytics.dim_date (date) VALUES ('2024-02-29') ON CONFLICT DO NOTHING"
        " RETURNING date_key, year, month, day, weekday, is_weekend"
    ).fetchone()
    assert row == (20240229, 2024, 2, 29, 4, False)
    with pytest.raises(errors.UniqueViolation):
        db.execute("INSERT INTO analytics.dim_date (date) VALUES ('2024-02-29')")
