"""A real API process (uvicorn) per test module, on its own topics and its own database.

Imported by the conftest of each suite that drives the API (fixtures are found by name).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import psycopg
import pytest
from confluent_kafka import Consumer, Message, TopicPartition
from psycopg.conninfo import conninfo_to_dict

from deploy.topics import TopicAdmin, apply
from ingest_api.keys import Scope, create_key
from schemas.codec import decode_transaction
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Transaction
from schemas.topics import TRANSACTIONS, declared_topics
from tests.support.ports import free_port

SENTINEL = str(Path(sys.executable).with_name("sentinel"))
PEPPER = "test-pepper"
T = TypeVar("T")


@pytest.fixture(scope="module")
def module_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def api_db(module_id: str) -> Iterator[str]:
    """A fresh database, migrated to head, owned by the application role."""
    from ledger_sink.migrate import upgrade

    postgres = PostgresConnection()
    name = f"test_api_{module_id}"
    owner = conninfo_to_dict(postgres.dsn.get_secret_value())["user"]  # the configured role
    with psycopg.connect(postgres.admin_dsn.get_secret_value(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    dsn = postgres.dsn.get_secret_value().rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(dsn)
        yield dsn
    finally:
        with psycopg.connect(postgres.admin_dsn.get_secret_value(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def topic_prefix(module_id: str) -> Iterator[str]:
    prefix = f"test-{module_id}."
    admin = TopicAdmin(KafkaConnection())
    specs = declared_topics(prefix)
    apply(admin, specs)
    yield prefix
    admin.delete(spec.name for spec in specs)


@pytest.fixture(scope="module")
def api_env(api_db: str, topic_prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "SENTINEL_POSTGRES_DSN": api_db,
        "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix,
        "SENTINEL_API_API_KEY_PEPPER": PEPPER,
        "SENTINEL_API_API_KEY_CACHE_S": "0",
        "SENTINEL_API_PRODUCE_TIMEOUT_MS": "3000",
        # Every test's requests come from 127.0.0.1, and the failed-authentication budget is
        # per client address: the tests that present bad keys on purpose (the contract's,
        # the admin's) would spend it for every test after them within the minute. The
        # test of the budget itself sets its own, and an address per test.
        "SENTINEL_API_AUTH_FAILURES_PER_MINUTE": "1000000",
    }


def start_api(
    env: dict[str, str], log: Path, ready: str = "/readyz"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `sentinel api serve`; return once ``ready`` answers 200 (/healthz: when a
    dependency is meant to be down)."""
    port = free_port()
    env = {**env, "SENTINEL_API_PORT": str(port)}
    with log.open("wb") as out:
        proc = subprocess.Popen([SENTINEL, "api", "serve"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the API exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}{ready}", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the API never became ready: {log.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """SIGTERM a service a test started; SIGKILL it if it has not exited in ``timeout_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


stop_api = stop_process


@pytest.fixture(scope="module")
def api_url(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_api(api_env, tmp_path_factory.mktemp("api") / "api.log")
    yield url
    stop_api(proc)


@pytest.fixture(scope="module")
def make_key(api_db: str) -> Callable[..., str]:
    """Create an API key in the test database; returns the secret."""

    def make(scopes: str = "ingest,read", rate: int | None = None, burst: int | None = None) -> str:
        async def run() -> str:
            async with await psycopg.AsyncConnection.connect(api_db, autocommit=True) as conn:
                wanted = {Scope(s) for s in scopes.split(",")}
                _key, secret = await create_key(conn, "test", wanted, PEPPER, rate, burst)
                return secret

        return asyncio.run(run())

    return make


@pytest.fixture(scope="module")
def ingest_key(make_key: Callable[..., str]) -> str:
    return make_key("ingest,read")


def transaction(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_id": str(uuid.uuid4()),
        "account_id": f"acct-{uuid.uuid4().hex[:6]}",
        "card_token": "tok_5d41402abc4b",
        "amount": "125.00",
        "currency": "INR",
        "merchant_id": "m-1",
        "country": "IN",
        "channel": "ECOM",
        "timestamp": datetime.now(UTC).isoformat(),
        "type": "debit",
    }
    body.update(changes)
    return body


def headers(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {key}"}
    out["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
    return out


def read_transactions(
    prefix: str, settle_s: float = 1.0, bootstrap: str | None = None
) -> list[Transaction]:
    """Every record on the test's transactions topic, decoded."""
    topic = f"{prefix}{TRANSACTIONS.name}"
    return read_records(topic, lambda m: decode_transaction(m.value()), settle_s, bootstrap)


def read_records(
    topic: str, decode: Callable[[Message], T], settle_s: float = 1.0, bootstrap: str | None = None
) -> list[T]:
    """Every message on ``topic`` through ``decode``, once none came for ``settle_s``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap or KafkaConnection().bootstrap_servers,
            "group.id": uuid.uuid4().hex,
            "enable.auto.commit": False,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[T] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle_s:
            batch = consumer.consume(num_messages=1000, timeout=0.2)
            if batch:
                quiet_since = time.monotonic()
            out.extend(decode(m) for m in batch if m.error() is None)
        return out
    finally:
        consumer.close()


def redis_ports(server: psutil.Process, redis_port: int) -> set[int]:
    """The local ports of ``server``'s (and its workers') connections to the Redis on
    ``redis_port``: how a MONITOR tells that process's commands from everyone else's."""
    return {
        c.laddr.port
        for p in [server, *server.children(recursive=True)]
        for c in p.net_connections("tcp")
        if c.raddr and c.raddr.port == redis_port
    }
