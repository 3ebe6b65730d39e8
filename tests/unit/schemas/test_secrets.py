"""The default-secret guard: shipped secrets refused as soon as one host is not loopback."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from ingest_api.settings import ApiSettings
from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.secrets import (
    DefaultSecretError,
    Secret,
    default_secret_problem,
    kafka_hosts,
    postgres_parts,
    redis_parts,
    refuse_default_secrets,
)
from sentinel_cli.main import app

OWN_DSN = "postgresql://sentinel:k9%2Fq-long-own@db.internal:5432/sentinel"
OWN_REDIS = "rediss://:r3d1s-own@cache.internal:6379/0"


def test_the_defaults_run_on_loopback() -> None:
    refuse_default_secrets(KafkaConnection(), PostgresConnection(), RedisConnection(), admin=True)
    ApiSettings().refuse_default_secrets()


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"host": "0.0.0.0"}, "SENTINEL_API_API_KEY_PEPPER"),  # noqa: S104
        (
            {"kafka": KafkaConnection(bootstrap_servers="kafka-1.internal:9092")},
            "SENTINEL_REDIS_URL",
        ),
        ({"postgres": PostgresConnection(dsn=SecretStr(OWN_DSN))}, "SENTINEL_API_API_KEY_PEPPER"),
        (
            {"redis": RedisConnection(url=SecretStr("redis://10.0.0.5:6379/0"))},
            "SENTINEL_REDIS_URL",
        ),
        ({"host": "::"}, "SENTINEL_POSTGRES_DSN"),
    ],
)
def test_the_api_refuses_a_default_secret_with_any_remote_host(
    kwargs: dict[str, object], setting: str
) -> None:
    with pytest.raises(DefaultSecretError, match=setting):
        ApiSettings(**kwargs).refuse_default_secrets()  # type: ignore[arg-type]


def test_the_api_starts_remote_with_secrets_of_its_own() -> None:
    ApiSettings(
        host="0.0.0.0",  # noqa: S104
        api_key_pepper=SecretStr("a-pepper-of-our-own-0123456789"),
        kafka=KafkaConnection(bootstrap_servers="kafka-1.internal:9092,kafka-2.internal:9092"),
        postgres=PostgresConnection(dsn=SecretStr(OWN_DSN)),
        redis=RedisConnection(url=SecretStr(OWN_REDIS)),
    ).refuse_default_secrets()


def test_the_error_names_every_default_and_every_remote_host() -> None:
    problem = default_secret_problem(
        ["127.0.0.1", "db.internal", "localhost"],
        [Secret("SENTINEL_POSTGRES_DSN", True), Secret("SENTINEL_REDIS_URL", False)],
    )
    assert problem is not None
    assert "SENTINEL_POSTGRES_DSN" in problem and "db.internal" in problem
    assert "SENTINEL_REDIS_URL" not in problem and "127.0.0.1" not in problem


def test_the_superuser_dsn_counts_only_where_it_is_used() -> None:
    postgres = PostgresConnection(dsn=SecretStr(OWN_DSN))
    refuse_default_secrets(postgres)  # a service: the superuser DSN is not its business
    with pytest.raises(DefaultSecretError, match="SENTINEL_POSTGRES_ADMIN_DSN"):
        refuse_default_secrets(postgres, admin=True)  # the stack, which uses it


@pytest.mark.parametrize(
    ("dsn", "hosts", "password"),
    [
        ("postgresql://sentinel:sentinel@127.0.0.1:5433/sentinel", ["127.0.0.1"], "sentinel"),
        ("host=db1,db2 user=app password=postgres dbname=x", ["db1", "db2"], "postgres"),
        ("dbname=x user=app", ["/local-socket"], None),
        ("postgresql://app@%2Frun%2Fpostgresql/x", ["/run/postgresql"], None),
    ],
)
def test_postgres_dsns_are_read_in_both_forms(
    dsn: str, hosts: list[str], password: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGHOST", raising=False)
    assert postgres_parts(dsn) == (hosts, password)


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("redis://127.0.0.1:6380/0", ("127.0.0.1", None)),
        ("redis://:pw@cache:6379/0", ("cache", "pw")),
        ("rediss://user:pw@cache:6379/0", ("cache", "pw")),
        ("redis://cache:6379/0?password=pw", ("cache", "pw")),
        ("unix:///run/redis.sock", ("/unix-socket", None)),
    ],
)
def test_redis_urls(url: str, parts: tuple[str, str | None]) -> None:
    assert redis_parts(url) == parts


def test_kafka_bootstrap_lists() -> None:
    assert kafka_hosts("PLAINTEXT://k1:9092, [::1]:9093,k3:9094") == ["k1", "::1", "k3"]


# Every command that connects, pointed at a remote database with the shipped password: it
# must stop before connecting, naming the setting. The long-running services would retry an
# unreachable database for ever, so their start is replaced by a marker that fails the test.
SERVICE_STARTS = {
    "sink run": "ledger_sink.service.run",
    "labels sink": "ledger_sink.labels.run",
    "webhooks run": "ledger_sink.webhooks.service.main",
    "merchant-risk run --once": "stream_agents.merchant_risk.job.MerchantRiskJob",
    "db migrate": "ledger_sink.migrate.upgrade",
    "replay": "replay.cli.replay",
}
COMMANDS = [
    *SERVICE_STARTS,
    "ledger verify",
    "webhooks list",
    "keys list",
    "rules sync",
]


class Started(Exception):
    """The command got past its guard."""


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_refuse_to_start(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*_args: object, **_kwargs: object) -> None:
        raise Started(command)

    if command in SERVICE_STARTS:
        monkeypatch.setattr(SERVICE_STARTS[command], started)
    # .invalid never resolves: a command without the guard fails on the connection instead.
    monkeypatch.setenv(
        "SENTINEL_POSTGRES_DSN", "postgresql://sentinel:sentinel@db.invalid:5433/sentinel"
    )
    result = CliRunner().invoke(app, command.split())
    assert isinstance(result.exception, DefaultSecretError), result.output
    assert "SENTINEL_POSTGRES_DSN" in str(result.exception)
    assert "db.invalid" in str(result.exception)


async def test_every_api_worker_refuses_before_connecting() -> None:
    # uvicorn's factory builds the app in each worker process: Runtime.open is where each
    # one connects, so the guard is there too (not only in `sentinel api serve`).
    from ingest_api.runtime import Runtime

    with pytest.raises(DefaultSecretError, match="SENTINEL_API_API_KEY_PEPPER"):
        await Runtime.open(ApiSettings(host="0.0.0.0"))  # noqa: S104


def test_db_roles_refuses_the_superusers_default_password_off_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `db roles` connects as the superuser only: its DSN is the one to check.
    monkeypatch.setattr("ledger_sink.roles.provision", lambda *_: pytest.fail("connected"))
    monkeypatch.setenv(
        "SENTINEL_POSTGRES_DSN", "postgresql://sentinel:own-pw-0123@db.invalid:5433/sentinel"
    )
    monkeypatch.setenv(
        "SENTINEL_POSTGRES_ADMIN_DSN", "postgresql://postgres:postgres@db.invalid:5433/postgres"
    )
    result = CliRunner().invoke(app, ["db", "roles"])
    assert isinstance(result.exception, DefaultSecretError), result.output
    assert "SENTINEL_POSTGRES_ADMIN_DSN" in str(result.exception)


@pytest.mark.parametrize(
    "url",
    [
        "redis://10.0.0.5:6379/0",
        "redis://:@10.0.0.5:6379/0",  # an empty password is none
        "redis://app@10.0.0.5:6379/0",  # a user without a password
        "rediss://cache.internal:6379/0?password=",
    ],
)
def test_a_redis_without_a_password_is_refused_off_loopback(url: str) -> None:
    with pytest.raises(DefaultSecretError, match="SENTINEL_REDIS_URL"):
        refuse_default_secrets(RedisConnection(url=SecretStr(url)))
