"""The replay's database access: read-only, candidate rules by id or name and version."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from replay.database import connect, live_decisions, rules_from_database
from replay.errors import ReplayError
from replay.plan import RuleRef
from tests.integration.ledger_sink.support import migrated_database

pytestmark = pytest.mark.integration

RULE_ID = "0b7f1d7e-6f4c-4f5e-9a47-1f0c2d3e4a5b"


@pytest.fixture(scope="module")
def ledger() -> Iterator[str]:
    with migrated_database() as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO rules (rule_id, name, created_by) VALUES (%s, 'High amount', 't')",
                (RULE_ID,),
            )
            for version, expression, action, delta in (
                (1, "amount > 5000", "REVIEW", None),
                (2, "amount > 9000", "SCORE+0.3", 0.3),
            ):
                conn.execute(
                    "INSERT INTO rule_versions (rule_id, version, name, expression, action,"
                    " score_delta, priority, mode, author)"
                    " VALUES (%s, %s, 'High amount', %s, %s, %s, 5, 'active', 't')",
                    (RULE_ID, version, expression, action, delta),
                )
        yield dsn


def test_rules_by_id_or_name_at_a_version_or_the_latest(ledger: str) -> None:
    with connect(ledger) as conn:
        latest, first, by_name = rules_from_database(
            conn, [RuleRef(RULE_ID), RuleRef(RULE_ID, 1), RuleRef("High amount")]
        )
    assert (latest.version, latest.expression, latest.action.score_delta) == (
        2,
        "amount > 9000",
        0.3,
    )
    assert (first.version, str(first.action), first.priority) == (1, "REVIEW", 5)
    assert by_name == latest and latest.rule_id == RULE_ID


def test_an_unknown_rule_or_version_is_a_clear_error(ledger: str) -> None:
    with connect(ledger) as conn:
        with pytest.raises(ReplayError, match="no rule 'nope'"):
            rules_from_database(conn, [RuleRef("nope")])
        with pytest.raises(ReplayError, match="version 7"):
            rules_from_database(conn, [RuleRef(RULE_ID, 7)])


def test_the_connection_cannot_write(ledger: str) -> None:
    with connect(ledger) as conn:
        assert live_decisions(conn, ["absent"]) == {}
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO accounts (account_id) VALUES ('x')")


def test_an_unreachable_database_is_a_replay_error() -> None:
    with pytest.raises(ReplayError, match="cannot reach PostgreSQL"):
        connect("postgresql://nobody@127.0.0.1:1/none")
