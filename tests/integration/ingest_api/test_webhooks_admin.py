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
        json={"url": "https://hooks.example/hook", "event_types": ["decision.declined"]},
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


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:6380/",
        "https://127.0.0.1:6380/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:6380/",
        "https://0x7f000001/",
        "https://2130706433/",
        "https://[::ffff:127.0.0.1]/",
        "https://10.0.0.8/",
        "https://localhost:8000/",
        "http://hooks.example/plain-http",
    ],
)
def test_internal_and_plain_http_targets_are_refused(
    api_url: str, make_key: Callable[..., str], target: str
) -> None:
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    url = f"{api_url}/v1/webhooks/subscriptions"
    with_userinfo = target.replace("://", "://admin:hunter2@", 1)
    for candidate in (target, with_userinfo):
        refused = httpx.post(url, headers=admin, json={"url": candidate, "event_types": ["*"]})
        assert refused.status_code == 422, (candidate, refused.text)
        assert refused.json()["code"] == "validation_failed"
        assert "hunter2" not in refused.text
    assert all(s["url"] != target for s in httpx.get(url, headers=admin).json())


def test_userinfo_is_never_echoed(api_url: str, make_key: Callable[..., str]) -> None:
    admin = {"Authorization": f"Bearer {make_key('admin')}"}
    url = f"{api_url}/v1/webhooks/subscriptions"
    made = httpx.post(
        url,
        headers=admin,
        json={"url": "https://bob:hunter2@hooks.example/in", "event_types": ["*"]},
    )
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "https://***@hooks.example/in"
    listed = httpx.get(url, headers=admin)
    assert "hunter2" not in listed.text and "bob" not in listed.text


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
