"""Migrating real, empty PostgreSQL databases: to head, again, concurrently, step by step."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from ledger_sink.errors import MigrationError
from ledger_sink.migrate import Upgrade, current, head, history, sql_script, upgrade
from sentinel_cli.main import app

pytestmark = pytest.mark.integration

TABLES = {
    "public.accounts",
    "public.alembic_version",
    "public.api_keys",
    "public.balances",
    "public.console_audit",
    "public.console_users",
    "public.decision_rule_hits",
    "public.decisions",
    "public.labels",
    "public.ledger_entries",
    "public.list_items",
    "public.lists",
    "public.rule_audit",
    "public.rule_publications",
    "public.rule_versions",
    "public.rules",
    "public.review_resolutions",
    "public.rule_backtests",
    "public.rule_changes_pending",
    "public.transactions",
    "public.webhook_delivery_stats",
    "public.webhook_subscriptions",
    "analytics.dim_account",
    "analytics.dim_channel",
    "analytics.dim_date",
    "analytics.dim_location",
    "analytics.dim_merchant",
    "analytics.dim_time",
    "analytics.fact_decisions",
}
CATALOG = {
    "tables": """SELECT n.nspname || '.' || c.relname, c.relkind FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname IN ('public', 'analytics') ORDER BY 1""",
    "columns": """SELECT table_schema, table_name, column_name, data_type, is_nullable,
                         column_default, generation_expression
                  FROM information_schema.columns
                  WHERE table_schema IN ('public', 'analytics') ORDER BY 1, 2, 3""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE connamespace::regnamespace::text
                      IN ('public', 'analytics') ORDER BY 1, 2, 3""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
                   FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
    "indexes": """SELECT schemaname, indexname, indexdef FROM pg_indexes
                  WHERE schemaname IN ('public', 'analytics') ORDER BY 1, 2""",
    "seeded": """SELECT (SELECT count(*) FROM analytics.dim_time),
                        (SELECT count(*) FROM analytics.dim_channel)""",
}


def catalog(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the migrations declare, as the database reports it."""
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CATALOG.items()}


def test_an_empty_database_migrates_to_head_and_a_second_run_changes_nothing(
    empty_db: str,
) -> None:
    assert current(empty_db) is None
    assert upgrade(empty_db) == Upgrade(before=None, after=head())
    schema = catalog(empty_db)
    again = upgrade(empty_db)
    assert not again.changed and again.after == head()
    assert catalog(empty_db) == schema
    assert current(empty_db) == head()
    tables = {name for name, kind in schema["tables"] if kind == "r"}
    assert tables == TABLES


def test_concurrent_migrators_wait_for_each_other_and_one_does_the_work(empty_db: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: upgrade(empty_db), range(4)))
    assert sum(result.changed for result in results) == 1
    assert {result.after for result in results} == {head()}


def test_step_by_step_and_offline_script_give_the_schema_of_one_run(
    migrated_db: str, new_database: Callable[[], AbstractContextManager[str]]
) -> None:
    wanted = catalog(migrated_db)
    with new_database() as stepwise:
        for revision in history():
            upgrade(stepwise, revision)
            assert current(stepwise) == revision
        assert catalog(stepwise) == wanted
    with new_database() as offline:
        with psycopg.connect(offline, autocommit=True) as conn:
            conn.execute(sql_script().encode())
        assert catalog(offline) == wanted


def test_a_failed_connection_is_a_migration_error_without_the_password(migrated_db: str) -> None:
    wrong = make_conninfo(migrated_db, password="not-the-password-4711")
    with pytest.raises(MigrationError) as info:
        upgrade(wrong)
    assert "not-the-password-4711" not in str(info.value)
    assert "password authentication failed" in str(info.value)


def test_an_unknown_revision_is_a_migration_error(migrated_db: str) -> None:
    with pytest.raises(MigrationError, match="nope"):
        upgrade(migrated_db, "nope")


def test_cli_migrates_the_database_the_environment_names(empty_db: str) -> None:
    runner = CliRunner()
    env = {"SENTINEL_POSTGRES_DSN": empty_db}
    behind = runner.invoke(app, ["db", "current", "--check"], env=env)
    assert behind.exit_code == 1 and "(empty)" in behind.output
    first = runner.invoke(app, ["db", "migrate"], env=env)
    assert first.exit_code == 0 and "migrated" in first.output
    second = runner.invoke(app, ["db", "migrate"], env=env)
    assert second.exit_code == 0 and "up to date" in second.output
    now = runner.invoke(app, ["db", "current", "--check"], env=env)
    assert now.exit_code == 0 and str(head()) in now.output
