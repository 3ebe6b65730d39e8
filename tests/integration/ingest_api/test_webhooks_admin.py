"""Webhook subscriptions through the admin API, as the dispatcher then reads them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import psycopg
import pytest

from ledger_sink.webhooks import subscriptions

pytestmark = pytest.mark.integration


def dispatcher_view(dsn: str) -> list[subscriptions.Subscription]:
    async def load() -> list[subscriptions.Subscription]:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            return await subscriptions.list_all(conn, active_only=True)

    return asyncio.run(load())


def test_subscribe_list_disable(api_url: str, make_key: Callable[..., str], api_db: str) -> None:
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    url = f"{api_url}/v1/webhooks/subscriptions"
    generated = httpx.post(
        url,
        headers=admin,
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["decision.declined"]},
    )
    assert generated.status_code == 201, generated.text
    secret = generated.json()["secret"]
    assert secret.startswith("whsec_")
    given = httpx.post(
        url,
        headers=admin,
        json={
            "url": "https://example.test/hook",
            "event_types": ["decision.*"],
            "secret": "s" * 20,
        },
    ).json()
    assert "secret" not in given

    listed = httpx.get(url, headers=admin).json()
    assert all("secret" not in s for s in listed)
    active = {s.subscription_id: s for s in dispatcher_view(api_db)}
    assert active[generated.json()["subscription_id"]].secret == secret
    assert active[given["subscription_id"]].wants("decision.review")

    off = httpx.post(f"{url}/{given['subscription_id']}/disable", headers=admin)
    assert off.json()["active"] is False
    assert given["subscription_id"] not in {s.subscription_id for s in dispatcher_view(api_db)}


def test_bad_subscriptions_are_422(api_url: str, make_key: Callable[..., str]) -> None:
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    url = f"{api_url}/v1/webhooks/subscriptions"
    for body in (
        {"url": "ftp://x/y", "event_types": ["decision.declined"]},
        {"url": "http://x/y", "event_types": []},
        {"url": "http://x/y", "event_types": ["Decision Declined"]},
        {"url": "http://x/y", "event_types": ["a"], "secret": "short"},
    ):
        assert httpx.post(url, headers=admin, json=body).status_code == 422, body
