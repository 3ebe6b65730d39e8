"""HTTP edges answered before any dependency is used: 405s (the app without its runtime)."""

from __future__ import annotations

import httpx
import pytest

from ingest_api.app import create_app


async def _request(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(with_runtime=False))
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
    ],
)
async def test_a_405_names_every_allowed_method(method: str, path: str, allow: str) -> None:
    response = await _request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json()["code"] == "method_not_allowed"
