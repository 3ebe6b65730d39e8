"""The local stack's passwords: generated for every default secret, kept where they came from."""

from __future__ import annotations

import pytest
import redis
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr

from deploy.local import credentials
from deploy.local.redis import url_password
from deploy.local.settings import StackSettings
from schemas.connections import PostgresConnection, RedisConnection
from schemas.secrets import DEFAULT_POSTGRES_PASSWORDS, connection_secrets

# The shipped defaults, whatever the environment holds (the suites export the stack's own).
DEFAULTS = StackSettings(
    postgres=PostgresConnection(
        **{name: field.default for name, field in PostgresConnection.model_fields.items()}
    ),
    redis=RedisConnection(
        **{name: field.default for name, field in RedisConnection.model_fields.items()}
    ),
)
NO_FILE: dict[str, str] = {}


def _defaults_left(settings: StackSettings) -> list[str]:
    found = connection_secrets(settings.postgres, admin=True) + connection_secrets(settings.redis)
    return [s.setting for s in found if s.is_default]


def test_every_default_secret_gets_a_password_of_its_own() -> None:
    settings, generated = credentials.generate(DEFAULTS, NO_FILE, {})
    assert generated == [
        "SENTINEL_POSTGRES_ADMIN_DSN",
        "SENTINEL_POSTGRES_DSN",
        "SENTINEL_REDIS_URL",
    ]
    assert _defaults_left(settings) == []
    app = conninfo_to_dict(settings.postgres.dsn.get_secret_value())
    admin = conninfo_to_dict(settings.postgres.admin_dsn.get_secret_value())
    # Only the password changes: the same roles, address and database.
    assert (app["user"], app["host"], app["port"], app["dbname"]) == (
        "sentinel",
        "127.0.0.1",
        "5433",
        "sentinel",
    )
    assert (admin["user"], admin["dbname"]) == ("postgres", "postgres")
    passwords = {str(app["password"]), str(admin["password"])}
    passwords.add(str(url_password(settings.redis.url.get_secret_value())))
    assert len(passwords) == 3 and not passwords & DEFAULT_POSTGRES_PASSWORDS
    assert all(len(p) >= 40 for p in passwords)  # 32 random bytes
    # A URL stays a URL: the suites derive other databases' DSNs from it.
    assert settings.postgres.dsn.get_secret_value().startswith("postgresql://sentinel:")
    again, _ = credentials.generate(DEFAULTS, NO_FILE, {})
    assert again.postgres.dsn != settings.postgres.dsn  # random, not derived


def test_the_redis_url_keeps_its_address_and_database() -> None:
    settings, _ = credentials.generate(DEFAULTS, NO_FILE, {})
    url = settings.redis.url.get_secret_value()
    client = redis.Redis.from_url(url)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6380, 0)
    assert kwargs["password"] == url_password(url)
    assert kwargs["username"] == "default"  # the user requirepass sets the password of


def test_secrets_of_ones_own_are_kept() -> None:
    own = StackSettings(
        postgres=PostgresConnection(
            dsn=SecretStr("postgresql://app:own-1@127.0.0.1:5433/sentinel"),
            admin_dsn=SecretStr("postgresql://postgres:own-2@127.0.0.1:5433/postgres"),
        ),
        redis=RedisConnection(url=SecretStr("redis://:own-3@127.0.0.1:6380/0")),
    )
    settings, generated = credentials.generate(own, NO_FILE, {})
    assert generated == [] and settings == own


def test_a_default_the_user_set_in_the_environment_is_their_choice() -> None:
    dsn = DEFAULTS.postgres.dsn.get_secret_value()
    environ = {"SENTINEL_POSTGRES_DSN": dsn}
    settings, generated = credentials.generate(DEFAULTS, NO_FILE, environ)
    assert "SENTINEL_POSTGRES_DSN" not in generated
    assert settings.postgres.dsn.get_secret_value() == dsn
    # The same value read from the env file (loaded into the environment) is replaced.
    from_file = {"SENTINEL_POSTGRES_DSN": dsn}
    _, generated = credentials.generate(DEFAULTS, from_file, environ)
    assert "SENTINEL_POSTGRES_DSN" in generated


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "postgresql://sentinel:sentinel@127.0.0.1:5433/sentinel?sslmode=disable",
            "postgresql://sentinel:n%2Fw%40x@127.0.0.1:5433/sentinel?sslmode=disable",
        ),
        ("postgresql://sentinel@127.0.0.1/x", "postgresql://sentinel:n%2Fw%40x@127.0.0.1/x"),
    ],
)
def test_a_url_dsn_gets_the_password_quoted(dsn: str, expected: str) -> None:
    replaced = credentials.dsn_with_password(dsn, "n/w@x")
    assert replaced == expected
    assert conninfo_to_dict(replaced)["password"] == "n/w@x"


def test_a_key_value_dsn_gets_the_password() -> None:
    replaced = credentials.dsn_with_password("host=db user=app password=old dbname=x", "n w'x")
    parts = conninfo_to_dict(replaced)
    assert (parts["host"], parts["user"], parts["password"]) == ("db", "app", "n w'x")


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6380/0", "redis://:old@127.0.0.1:6380/0", "unix:///run/r.sock?db=2"],
)
def test_a_redis_url_gets_the_password(url: str) -> None:
    replaced = credentials.redis_url_with_password(url, "n/w@x")
    assert url_password(replaced) == "n/w@x"
    kwargs = redis.Redis.from_url(replaced).connection_pool.connection_kwargs
    assert kwargs["password"] == "n/w@x"
