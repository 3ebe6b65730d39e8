"""Webhook subscriptions in a real database, through the repository and the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg import AsyncConnection
from typer.testing import CliRunner, Result

from ledger_sink.errors import InvalidSubscription
from ledger_sink.webhooks import subscriptions
from ledger_sink.webhooks.cli import webhooks_app
from schemas.webhook_targets import WebhookTargetPolicy
from tests.support.receiver import LOCAL_POLICY

pytestmark = pytest.mark.integration

SENTINEL = str(Path(sys.executable).with_name("sentinel"))


async def test_create_list_get_and_disable(ledger_db: str) -> None:
    async with await AsyncConnection.connect(ledger_db, autocommit=True) as conn:
        first = await subscriptions.create(
            conn, "https://a.example/h", ["decision.*"], policy=LOCAL_POLICY
        )
        second = await subscriptions.create(
            conn,
            "http://127.0.0.1:9/h",
            ["decision.declined", "decision.declined"],
            "s" * 16,
            policy=LOCAL_POLICY,
        )
        assert first.secret.startswith("whsec_") and len(first.secret) > 32
        assert second.event_types == ["decision.declined"]
        assert "secret" not in repr(first) and first.secret not in repr(first)
        assert [s.subscription_id for s in await subscriptions.list_all(conn)] == [
            first.subscription_id,
            second.subscription_id,
        ]
        assert await subscriptions.disable(conn, second.subscription_id)
        assert not await subscriptions.disable(conn, "not-a-uuid")
        active = await subscriptions.list_all(conn, active_only=True)
        assert [s.subscription_id for s in active] == [first.subscription_id]
        found = await subscriptions.get(conn, second.subscription_id)
        assert found is not None and not found.active


async def test_internal_targets_are_refused_before_anything_is_stored(ledger_db: str) -> None:
    strict = WebhookTargetPolicy(allow_http=True, allowed_networks=())
    async with await AsyncConnection.connect(ledger_db, autocommit=True) as conn:
        for url in ("http://127.0.0.1:9/h", "http://0x7f000001/", "http://localhost:9/"):
            with pytest.raises(InvalidSubscription, match="not a public address"):
                await subscriptions.create(conn, url, ["*"], policy=strict)
        assert await subscriptions.list_all(conn) == []


def cli(dsn: str, *args: str) -> Result:
    env = {"SENTINEL_POSTGRES_DSN": dsn, "COLUMNS": "250"}
    return CliRunner().invoke(webhooks_app, list(args), env=env)


def test_the_cli_subscribes_lists_and_disables(ledger_db: str) -> None:
    made = cli(
        ledger_db,
        "subscribe",
        "--url",
        "https://hooks.example/x",
        "--event-types",
        "decision.declined, decision.review",
    )
    assert made.exit_code == 0, made.output
    subscription_id = made.stdout.split()[1]
    assert "secret: whsec_" in made.stdout  # generated, shown once
    listed = " ".join(cli(ledger_db, "list").stdout.split())
    assert subscription_id[:8] in listed and "decision.declined" in listed
    assert "whsec_" not in listed
    assert cli(ledger_db, "disable", subscription_id).exit_code == 0
    # Another id: its last hex digit changed (one id in 16 already ends in "0").
    unknown = subscription_id[:-1] + ("1" if subscription_id.endswith("0") else "0")
    assert cli(ledger_db, "disable", unknown).exit_code == 1
    refused = cli(ledger_db, "subscribe", "--url", "nope", "--event-types", "*")
    assert refused.exit_code == 1 and "refused" in refused.stderr
    internal = cli(
        ledger_db, "subscribe", "--url", "https://u:hunter2@169.254.169.254/", "--event-types", "*"
    )
    assert internal.exit_code == 1 and "not a public address" in internal.stderr
    assert "hunter2" not in internal.output


def test_the_cli_reads_a_given_secret_from_a_file_or_stdin(ledger_db: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("whsec_from_a_file_0123456789\n")
    by_file = cli(
        ledger_db, "subscribe", "--url", "https://a.example/h", "--event-types", "*",
        "--secret-file", str(secret_file),
    )  # fmt: skip
    assert by_file.exit_code == 0, by_file.output
    assert "secret:" not in by_file.stdout  # chosen by the caller: not shown
    env = {"SENTINEL_POSTGRES_DSN": ledger_db, "COLUMNS": "250"}
    by_stdin = CliRunner().invoke(
        webhooks_app,
        ["subscribe", "--url", "https://b.example/h", "--event-types", "*", "--secret-file", "-"],
        env=env,
        input="whsec_from_stdin_0123456789\n",
    )
    assert by_stdin.exit_code == 0, by_stdin.output

    async def secrets() -> dict[str, str]:
        async with await AsyncConnection.connect(ledger_db, autocommit=True) as conn:
            return {s.url: s.secret for s in await subscriptions.list_all(conn)}

    assert asyncio.run(secrets()) == {
        "https://a.example/h": "whsec_from_a_file_0123456789",
        "https://b.example/h": "whsec_from_stdin_0123456789",
    }


def test_a_secret_on_the_command_line_is_refused(ledger_db: str, tmp_path: Path) -> None:
    given = "whsec_on_the_command_line_0123"
    flag = cli(ledger_db, "subscribe", "--url", "https://a.example/h", "--event-types", "*",
               "--secret", given)  # fmt: skip
    assert flag.exit_code == 2 and "--secret-file" in flag.stderr
    (tmp_path / "empty").write_text("")
    empty = cli(ledger_db, "subscribe", "--url", "https://a.example/h", "--event-types", "*",
                "--secret-file", str(tmp_path / "empty"))  # fmt: skip
    assert empty.exit_code == 1 and "empty" in empty.stderr
    assert cli(ledger_db, "list").stdout.count("a.example") == 0  # nothing was stored


def test_the_sentinel_command_exposes_the_webhook_commands() -> None:
    done = subprocess.run(
        [SENTINEL, "webhooks", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    for command in ("subscribe", "list", "disable", "run"):
        assert command in done.stdout
