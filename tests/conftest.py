"""Fixtures shared by every suite: settings for the real local stack and per-test isolation.

Integration tests never mock Kafka, PostgreSQL or Redis. Each test gets its own topic
prefix, database schema or key prefix, so tests never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator

import psycopg
import pytest
import redis
from psycopg import sql

from deploy.local import envfile
from deploy.topics import TopicAdmin, apply
from schemas.connections import KafkaConnection, PostgresConnection, RedisConnection
from schemas.topics import TopicSpec, declared_topics

# The suites reach the local stack with the addresses and passwords its env file holds
# (`sentinel stack up` generates the passwords), unless the environment names them; they
# read nothing else of `.stack/sentinel.env` (deploy.local.envfile): each test names its own
# topics, database and registry. Subprocesses inherit both.
for _name, _value in envfile.connection_values().items():
    os.environ.setdefault(_name, _value)
os.environ["SENTINEL_ENV_FILE"] = ""
# The CLIs' rich consoles take their width from COLUMNS when they are built, at import: set
# here, before any test imports one, a table is as wide whichever test imported it first
# (under xdist the order differs, and an 80-column table cut the ids tests look for).
os.environ["COLUMNS"] = "250"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that ran agent workers (the ``agents`` fixture) reports their notable
    log lines: the workers' logs live in the test's tmp dir, gone with a CI machine."""
    report = yield
    if report.when == "call" and report.failed:
        agents = getattr(item, "funcargs", {}).get("agents")
        if agents is not None:
            report.sections.append(("agent workers' logs", agents[1].report()))
    return report


@pytest.fixture
def unique() -> str:
    """A short id to name what this test owns."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def kafka_connection() -> KafkaConnection:
    return KafkaConnection()


@pytest.fixture(scope="session")
def topic_admin(kafka_connection: KafkaConnection) -> TopicAdmin:
    admin = TopicAdmin(kafka_connection)
    if admin.broker_count() < 1:
        pytest.fail(f"no Kafka broker answers on {kafka_connection.bootstrap_servers}: make up")
    return admin


@pytest.fixture
def project_topics(topic_admin: TopicAdmin, unique: str) -> Iterator[dict[str, TopicSpec]]:
    """Every declared topic, created for this test under its own prefix and deleted after."""
    specs = declared_topics(prefix=f"test-{unique}.")
    apply(topic_admin, specs)
    yield {spec.name.removeprefix(f"test-{unique}."): spec for spec in specs}
    topic_admin.delete(spec.name for spec in specs)


@pytest.fixture
def pg(unique: str) -> Iterator[psycopg.Connection]:
    """A connection as the application role, inside a schema this test owns."""
    schema = f"test_{unique}"
    dsn = PostgresConnection().dsn.get_secret_value()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        try:
            yield conn
        finally:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(RedisConnection().url.get_secret_value())
    yield client
    client.close()
