"""API keys over time, against a real API and PostgreSQL: expiry, and last_used_at written
in batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from ingest_api.keys import Scope, create_key
from tests.support.api import PEPPER, start_api, stop_api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**api_env, "SENTINEL_API_API_KEY_LAST_USED_S": "0.2"}
    proc, url = start_api(env, tmp_path_factory.mktemp("api") / "api.log")
    yield url
    stop_api(proc)


def _key(dsn: str, expires_at: datetime | None = None) -> tuple[str, str]:
    async def run() -> tuple[str, str]:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            key, secret = await create_key(
                conn, "lifecycle", {Scope.READ}, PEPPER, expires_at=expires_at
            )
            return key.key_id, secret

    return asyncio.run(run())


def _balance(url: str, secret: str) -> httpx.Response:
    return httpx.get(
        f"{url}/v1/accounts/a-1/balance", headers={"Authorization": f"Bearer {secret}"}
    )


def test_a_key_is_refused_once_it_expires(api: str, api_db: str) -> None:
    _, soon = _key(api_db, expires_at=datetime.now(UTC) + timedelta(seconds=2))
    _, later = _key(api_db, expires_at=datetime.now(UTC) + timedelta(days=30))
    assert _balance(api, soon).status_code == 404  # authenticated: no such balance
    time.sleep(2.5)
    refused = _balance(api, soon)
    assert (refused.status_code, refused.json()["message"]) == (401, "expired API key")
    assert _balance(api, later).status_code == 404


def test_last_used_at_is_written_after_use(api: str, api_db: str) -> None:
    key_id, secret = _key(api_db)
    for _ in range(5):
        assert _balance(api, secret).status_code == 404
    query = "SELECT last_used_at FROM api_keys WHERE key_id = %s"
    deadline = time.monotonic() + 10
    with psycopg.connect(api_db, autocommit=True) as conn:
        while (row := conn.execute(query, (key_id,)).fetchone()) and row[0] is None:
            assert time.monotonic() < deadline, "last_used_at never written"
            time.sleep(0.1)
    assert row is not None and datetime.now(UTC) - row[0] < timedelta(seconds=30)
