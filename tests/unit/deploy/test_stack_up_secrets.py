"""`sentinel stack up`: passwords of the checkout's own, written before any server gets one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values
from typer.testing import CliRunner

from deploy.local import stack
from deploy.local.settings import StackSettings
from schemas.secrets import DEFAULT_POSTGRES_PASSWORDS, postgres_parts, redis_parts
from sentinel_cli.main import app

SECRETS = ("SENTINEL_POSTGRES_DSN", "SENTINEL_POSTGRES_ADMIN_DSN", "SENTINEL_REDIS_URL")
OLD_FILE = (  # what `make up` wrote before the stack generated its passwords
    "SENTINEL_POSTGRES_DSN='postgresql://sentinel:sentinel@127.0.0.1:5433/sentinel'\n"
    "SENTINEL_REDIS_URL='redis://127.0.0.1:6380/0'\n"
)


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stack folder of the test's own and no connection variable set; the environment as
    it was afterwards (the command loads the env file behind monkeypatch's back)."""
    saved = dict(os.environ)
    monkeypatch.delenv("SENTINEL_ENV_FILE", raising=False)
    monkeypatch.setenv("SENTINEL_STACK_DIR", str(tmp_path))
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[StackSettings, dict[str, str]]]:
    """Replaces the servers' start: each call's settings and the env file as it was then."""
    calls: list[tuple[StackSettings, dict[str, str]]] = []

    def fake_up(settings: StackSettings, **_: object) -> list[stack.ServiceStatus]:
        path = settings.dir / "sentinel.env"
        written = {k: v or "" for k, v in dotenv_values(path).items()} if path.exists() else {}
        calls.append((settings, written))
        return []

    monkeypatch.setattr(stack, "up", fake_up)
    return calls


def _passwords(settings: StackSettings) -> list[str | None]:
    return [
        postgres_parts(settings.postgres.dsn.get_secret_value())[1],
        postgres_parts(settings.postgres.admin_dsn.get_secret_value())[1],
        redis_parts(settings.redis.url.get_secret_value())[1],
    ]


def up() -> None:
    result = CliRunner().invoke(app, ["stack", "up"])
    assert result.exit_code == 0, result.output


def test_a_new_checkout_gets_its_own_passwords_kept_before_the_servers_start(
    stack_dir: Path, started: list[tuple[StackSettings, dict[str, str]]]
) -> None:
    up()
    (settings, written_before_start) = started[0]
    passwords = _passwords(settings)
    assert all(passwords) and not set(passwords) & DEFAULT_POSTGRES_PASSWORDS
    assert written_before_start["SENTINEL_POSTGRES_DSN"] == settings.postgres.dsn.get_secret_value()
    assert written_before_start["SENTINEL_POSTGRES_ADMIN_DSN"] == (
        settings.postgres.admin_dsn.get_secret_value()
    )
    assert written_before_start["SENTINEL_REDIS_URL"] == settings.redis.url.get_secret_value()
    assert stat.S_IMODE((stack_dir / "sentinel.env").stat().st_mode) == 0o600


def test_the_passwords_stay_across_down_and_up(
    stack_dir: Path, started: list[tuple[StackSettings, dict[str, str]]]
) -> None:
    up()
    for name in SECRETS:  # a new shell: only the file knows them
        os.environ.pop(name, None)
    up()
    assert _passwords(started[0][0]) == _passwords(started[1][0])


def test_an_old_stack_file_with_the_public_passwords_gets_new_ones(
    stack_dir: Path, started: list[tuple[StackSettings, dict[str, str]]]
) -> None:
    (stack_dir / "sentinel.env").write_text(OLD_FILE)
    up()
    settings, written = started[0]
    assert not set(_passwords(settings)) & (DEFAULT_POSTGRES_PASSWORDS | {None})
    assert "sentinel:sentinel@" not in written["SENTINEL_POSTGRES_DSN"]


def test_no_env_file_no_passwords_generated(
    stack_dir: Path,
    started: list[tuple[StackSettings, dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nowhere to keep them (the suites' setting): a generated password would be lost, and
    # the servers would be moved off the passwords every other process uses.
    monkeypatch.setenv("SENTINEL_ENV_FILE", "")
    up()
    assert _passwords(started[0][0]) == ["sentinel", "postgres", None]
    assert not (stack_dir / "sentinel.env").exists()


def test_brokers_3_runs_three_nodes_and_keeps_their_addresses_in_the_env_file(
    stack_dir: Path,
    started: list[tuple[StackSettings, dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SENTINEL_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("SENTINEL_STACK_KAFKA_BROKERS", raising=False)
    result = CliRunner().invoke(app, ["stack", "up", "--brokers", "3"])
    assert result.exit_code == 0, result.output
    (settings, written) = started[0]
    three = "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    assert (settings.kafka_brokers, settings.kafka.bootstrap_servers) == (3, three)
    assert written["SENTINEL_KAFKA_BOOTSTRAP_SERVERS"] == three
    assert written["SENTINEL_STACK_KAFKA_BROKERS"] == "3"
    assert [s.name for s in stack.services(settings)][-3:] == ["kafka-1", "kafka-2", "kafka-3"]
