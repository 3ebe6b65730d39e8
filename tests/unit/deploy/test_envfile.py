"""The local deployment's env file: written from the settings in force, read by commands."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from deploy.local import envfile
from deploy.local.settings import StackSettings
from schemas.secrets import DEFAULT_PEPPER
from schemas.webhook_targets import TargetRefused, WebhookTargetPolicy, check_url


@pytest.fixture
def stack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stack folder of the test's own; the environment as it was afterwards (loading the
    file writes to ``os.environ`` behind monkeypatch's back)."""
    saved = dict(os.environ)
    monkeypatch.delenv("SENTINEL_ENV_FILE", raising=False)
    monkeypatch.setenv("SENTINEL_STACK_DIR", str(tmp_path))
    for name in (
        "SENTINEL_KAFKA_TOPIC_PREFIX",
        "SENTINEL_AGENTS_MODEL_REGISTRY",
        "SENTINEL_API_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def test_written_with_the_settings_in_force_and_read_back(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_KAFKA_TOPIC_PREFIX", "demo.")
    path = envfile.write(StackSettings())
    assert path == stack_dir / "sentinel.env"
    assert path.stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv("SENTINEL_KAFKA_TOPIC_PREFIX")
    assert envfile.load() == path
    assert os.environ["SENTINEL_KAFKA_TOPIC_PREFIX"] == "demo."
    assert os.environ["SENTINEL_AGENTS_MODEL_REGISTRY"] == str(stack_dir / "models")


def test_the_environment_wins_and_a_users_lines_are_kept(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = stack_dir / "sentinel.env"
    path.write_text("SENTINEL_API_PORT='8123'\nSENTINEL_SINK_BATCH_MAX='50'\n")
    envfile.load()
    assert os.environ["SENTINEL_API_PORT"] == "8123"
    monkeypatch.setenv("SENTINEL_API_PORT", "9000")
    envfile.load()
    assert os.environ["SENTINEL_API_PORT"] == "9000"
    envfile.write(StackSettings())
    text = path.read_text()
    assert "SENTINEL_API_PORT='9000'" in text
    assert "SENTINEL_SINK_BATCH_MAX='50'" in text


def test_an_empty_variable_reads_and_writes_none(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_ENV_FILE", "")
    assert envfile.write(StackSettings()) is None
    assert envfile.load() is None
    assert not (stack_dir / "sentinel.env").exists()


def test_the_local_stack_lets_its_demo_receiver_on_loopback_through(
    stack_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SENTINEL_WEBHOOKS_ALLOW_HTTP", "SENTINEL_WEBHOOKS_ALLOWED_NETWORKS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TargetRefused):  # nothing said: loopback and plain http are refused
        check_url("http://127.0.0.1:8099/hook", WebhookTargetPolicy())
    envfile.write(StackSettings())
    envfile.load()
    local = WebhookTargetPolicy()
    assert check_url("http://127.0.0.1:8099/hook", local).port == 8099
    with pytest.raises(TargetRefused):  # loopback only, not the metadata endpoint
        check_url("http://169.254.169.254/", local)


def test_a_new_stack_gets_a_pepper_of_its_own_once(stack_dir: Path) -> None:
    path = envfile.write(StackSettings())
    assert path is not None
    pepper = dotenv_values(path)[envfile.PEPPER_VAR]
    assert pepper and pepper != DEFAULT_PEPPER and len(pepper) >= 32
    envfile.write(StackSettings())
    assert dotenv_values(path)[envfile.PEPPER_VAR] == pepper  # keys hashed with it still work
    other = stack_dir / "other"
    os.environ["SENTINEL_STACK_DIR"] = str(other)
    assert dotenv_values(envfile.write(StackSettings()))[envfile.PEPPER_VAR] != pepper


def test_an_existing_stack_keeps_the_pepper_its_demo_key_was_made_with(stack_dir: Path) -> None:
    (stack_dir / "demo").mkdir()
    (stack_dir / "demo" / "api-key").write_text("sk_demo\n")
    path = envfile.write(StackSettings())
    assert path is not None
    assert envfile.PEPPER_VAR not in dotenv_values(path)


def test_created_0600_never_chmod_ed(stack_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file written, then chmod-ed, holds the passwords readable by all in between.
    def no_chmod(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("chmod after the file was written")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    previous = os.umask(0)  # the worst case: nothing masked by the process
    try:
        path = envfile.write(StackSettings())
    finally:
        os.umask(previous)
    assert path is not None and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in stack_dir.iterdir()] == ["sentinel.env"]  # no temporary left


def test_the_suites_read_only_the_connections(stack_dir: Path) -> None:
    path = stack_dir / "sentinel.env"
    path.write_text(
        "SENTINEL_POSTGRES_DSN='postgresql://sentinel:pw1@127.0.0.1:5433/sentinel'\n"
        "SENTINEL_POSTGRES_ADMIN_DSN='postgresql://postgres:pw2@127.0.0.1:5433/postgres'\n"
        "SENTINEL_REDIS_URL='redis://:pw3@127.0.0.1:6380/0'\n"
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS='127.0.0.1:9092'\n"
        "SENTINEL_KAFKA_TOPIC_PREFIX='demo.'\n"
        "SENTINEL_API_API_KEY_PEPPER='pepper'\n"
    )
    assert envfile.connection_values() == {
        "SENTINEL_POSTGRES_DSN": "postgresql://sentinel:pw1@127.0.0.1:5433/sentinel",
        "SENTINEL_POSTGRES_ADMIN_DSN": "postgresql://postgres:pw2@127.0.0.1:5433/postgres",
        "SENTINEL_REDIS_URL": "redis://:pw3@127.0.0.1:6380/0",
        "SENTINEL_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    }


def test_the_superuser_dsn_is_written_for_the_commands_that_need_it(stack_dir: Path) -> None:
    # `sentinel db roles` and the suites' fixtures create roles and databases as the
    # superuser: once its password is the stack's own, only the file knows it.
    admin = "postgresql://postgres:own-pw@127.0.0.1:5433/postgres"
    os.environ["SENTINEL_POSTGRES_ADMIN_DSN"] = admin
    path = envfile.write(StackSettings())
    assert path is not None
    assert dotenv_values(path)["SENTINEL_POSTGRES_ADMIN_DSN"] == admin
