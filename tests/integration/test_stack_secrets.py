"""The stack's PostgreSQL and Redis with the passwords `stack up` generates: a private pair
on free ports (the shared stack's passwords are not this test's to change), new or from a
`.stack/` initialised with the public defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from pydantic import SecretStr

from deploy.local import credentials, stack
from deploy.local.postgres import PostgresService
from deploy.local.redis import RedisService
from deploy.local.settings import StackSettings
from schemas.connections import PostgresConnection, RedisConnection
from tests.support.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def old_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackSettings]:
    """A stack as `make up` configured it before: the public passwords, no Redis password;
    PostgreSQL and Redis only (the broker has no password). Stopped and deleted after."""
    pg, rd = free_port(), free_port()
    settings = StackSettings(
        dir=tmp_path / "stack",
        postgres=PostgresConnection(
            dsn=SecretStr(f"postgresql://sentinel:sentinel@127.0.0.1:{pg}/sentinel"),
            admin_dsn=SecretStr(f"postgresql://postgres:postgres@127.0.0.1:{pg}/postgres"),
        ),
        redis=RedisConnection(url=SecretStr(f"redis://127.0.0.1:{rd}/0")),
        postgres_shared_buffers="32MB",
        postgres_max_connections=20,
        redis_maxmemory="64mb",
        start_timeout_s=60,
    )
    monkeypatch.setattr(stack, "services", lambda s: [PostgresService(s), RedisService(s)])
    try:
        yield settings
    finally:
        stack.down(settings, purge=True)


def generated(settings: StackSettings) -> StackSettings:
    new, names = credentials.generate(settings, {}, {})
    assert len(names) == 3
    return new


def assert_only_the_generated_passwords_work(old: StackSettings, new: StackSettings) -> None:
    for dsn in (new.postgres.dsn, new.postgres.admin_dsn):
        with psycopg.connect(dsn.get_secret_value(), connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    for dsn in (old.postgres.dsn, old.postgres.admin_dsn):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(dsn.get_secret_value(), connect_timeout=5)
    anonymous = redis.Redis.from_url(old.redis.url.get_secret_value())
    with pytest.raises(redis.AuthenticationError):  # NOAUTH
        anonymous.set("sentinel:probe", "x")
    anonymous.close()
    client = redis.Redis.from_url(new.redis.url.get_secret_value())
    assert client.set("sentinel:probe", "x")
    client.close()


def test_a_new_stack_takes_only_its_generated_passwords(old_settings: StackSettings) -> None:
    new = generated(old_settings)
    rows = stack.up(new)
    assert all(row.answers for row in rows)
    assert_only_the_generated_passwords_work(old_settings, new)


def test_a_running_stack_from_before_is_moved_to_the_new_passwords(
    old_settings: StackSettings,
) -> None:
    stack.up(old_settings)  # the old stack, running with the public passwords
    with psycopg.connect(old_settings.postgres.admin_dsn.get_secret_value()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    new = generated(old_settings)
    changes: list[str] = []
    stack.up(new, secured=changes.append)
    assert [c.split()[0] for c in changes] == ["PostgreSQL", "Redis:"]
    assert_only_the_generated_passwords_work(old_settings, new)
    # Restarted, each server still takes the new password (Redis from its config file).
    assert sorted(stack.down(new)) == ["postgres", "redis"]
    stack.up(new)
    assert_only_the_generated_passwords_work(old_settings, new)


def test_a_stopped_stack_from_before_starts_with_the_new_passwords(
    old_settings: StackSettings,
) -> None:
    stack.up(old_settings)
    stack.down(old_settings)  # its data directories initialised with the public passwords
    new = generated(old_settings)
    rows = stack.up(new)
    assert all(row.answers for row in rows)
    assert_only_the_generated_passwords_work(old_settings, new)
