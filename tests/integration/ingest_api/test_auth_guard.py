"""What an unknown bearer token costs: a shape check before PostgreSQL, failures limited per
client address (real API processes, PostgreSQL and Redis)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ingest_api.keys import generate_key
from tests.support.api import start_api, stop_api

pytestmark = pytest.mark.integration

FAILURES_PER_MINUTE = 5


@pytest.fixture(scope="module")
def api_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api") / "api.log"


@pytest.fixture(scope="module")
def api_without_db(api_env: dict[str, str], module_id: str, api_log: Path) -> Iterator[str]:
    """An API whose database does not exist: any key look-up answers 503."""
    missing = api_env["SENTINEL_POSTGRES_DSN"].rsplit("/", 1)[0] + f"/missing_{module_id}"
    env = {**api_env, "SENTINEL_POSTGRES_DSN": missing}
    proc, url = start_api(env, api_log, ready="/healthz")
    yield url
    stop_api(proc)


@pytest.fixture(scope="module")
def strict_api(api_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**api_env, "SENTINEL_API_AUTH_FAILURES_PER_MINUTE": str(FAILURES_PER_MINUTE)}
    proc, url = start_api(env, tmp_path_factory.mktemp("api") / "api.log")
    yield url
    stop_api(proc)


def _as(address: str, key: str) -> dict[str, str]:
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 (its --forwarded-allow-ips default), as
    # from a proxy in front of the API: each test is its own client address.
    return {"Authorization": f"Bearer {key}", "X-Forwarded-For": address}


def _address() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


@pytest.mark.parametrize(
    "secret",
    ["sk_not-a-real-key", "x" * 600, generate_key()[:-1] + "!", "sk_" + "A" * 44],
    ids=["short", "long", "bad-character", "one-too-many"],
)
def test_a_malformed_key_is_401_without_a_database_query(api_without_db: str, secret: str) -> None:
    response = httpx.get(
        f"{api_without_db}/v1/accounts/a-1/balance", headers=_as(_address(), secret)
    )
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


def test_a_well_formed_unknown_key_does_reach_the_database(api_without_db: str) -> None:
    # The control of the test above: a key that has the shape is looked up, and fails here.
    response = httpx.get(
        f"{api_without_db}/v1/accounts/a-1/balance", headers=_as(_address(), generate_key())
    )
    assert response.status_code == 503


def test_a_503_body_names_no_dependency_error(api_without_db: str, api_log: Path) -> None:
    # Before authentication, to anyone: the body must not say which database is missing.
    response = httpx.get(
        f"{api_without_db}/v1/accounts/a-1/balance", headers=_as(_address(), generate_key())
    )
    assert response.status_code == 503
    assert response.json() == {
        "code": "unavailable",
        "message": "the key store is unavailable; retry shortly",
        "details": None,
    }
    assert int(response.headers["Retry-After"]) >= 1
    # ... and the operators still see the cause, in the API's log.
    logged = [line for line in api_log.read_text().splitlines() if "503 on GET" in line]
    assert logged and "PoolTimeout" in logged[-1], api_log.read_text()[-2000:]


def test_failed_authentications_are_limited_per_client_address(
    strict_api: str, make_key: Callable[..., str]
) -> None:
    url = f"{strict_api}/v1/accounts/a-{uuid.uuid4().hex[:6]}/balance"
    guesser, neighbour, valid = _address(), _address(), make_key("read")
    for _ in range(FAILURES_PER_MINUTE):
        assert httpx.get(url, headers=_as(guesser, generate_key())).status_code == 401
    refused = httpx.get(url, headers=_as(guesser, generate_key()))
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Out of failures, the address gets no more look-ups, even for a real key ...
    assert httpx.get(url, headers=_as(guesser, valid)).status_code == 429
    # ... while another address is unaffected.
    assert httpx.get(url, headers=_as(neighbour, valid)).status_code == 404
    assert httpx.get(url, headers=_as(neighbour, "sk_nope")).status_code == 401
