"""HTTP edges answered before any dependency is used: 405s, what is exposed on which address
(the app without its runtime)."""

from __future__ import annotations

import httpx
import pytest

from ingest_api.app import create_app
from ingest_api.settings import ApiSettings, is_loopback


async def _request(method: str, path: str, settings: ApiSettings | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, with_runtime=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, path)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/rules", "GET, POST"),  # two routes share the path: both are named
        ("PUT", "/v1/webhooks/subscriptions", "GET, POST"),
        ("OPTIONS", "/v1/transactions", "POST"),
        ("DELETE", "/v1/accounts/a-1/balance", "GET"),
        ("GET", "/v1/rules/r-1/disable", "POST"),
        # A literal segment beats GET /v1/rules/{rule_id} and /v1/transactions/{id}:
        ("PUT", "/v1/rules/dry-run", "POST"),
        ("OPTIONS", "/v1/transactions/batch", "POST"),
        ("OPTIONS", "/v1/rules/0b3f3cf4-3c5e-4a43-9c43-3ac6d1f2b6a1", "GET"),
        ("GET", "/v1/rules/validate", "POST"),  # not a rule id: no GET here (was a 422)
    ],
)
async def test_a_405_names_every_allowed_method(method: str, path: str, allow: str) -> None:
    response = await _request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json()["code"] == "method_not_allowed"


OPERATIONS = ["/docs", "/redoc", "/openapi.json", "/metrics"]


@pytest.mark.parametrize("path", OPERATIONS)
async def test_docs_and_metrics_are_off_on_a_public_address(path: str) -> None:
    response = await _request("GET", path, ApiSettings(host="0.0.0.0"))  # noqa: S104
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", OPERATIONS)
async def test_docs_and_metrics_are_on_for_loopback_by_default(path: str) -> None:
    assert (await _request("GET", path, ApiSettings(host="127.0.0.1"))).status_code == 200


async def test_each_can_be_exposed_on_purpose() -> None:
    public = ApiSettings(host="0.0.0.0", expose_metrics=True)  # noqa: S104
    assert (await _request("GET", "/metrics", public)).status_code == 200
    assert (await _request("GET", "/docs", public)).status_code == 404
    local_quiet = ApiSettings(host="127.0.0.1", expose_docs=False)
    assert (await _request("GET", "/openapi.json", local_quiet)).status_code == 404
    assert (await _request("GET", "/metrics", local_quiet)).status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("10.0.0.5", False),
        ("api.internal", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
