"""Idempotency-Key on admin POSTs, against a real API, Redis and PostgreSQL: a retried create
answers the first response and creates nothing more."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin_key(make_key: Callable[..., str]) -> str:
    return make_key("admin")


def _as(key: str, idempotency_key: str | None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {key}"}
    return sent | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})


def _count(dsn: str, sql: str, value: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql, (value,)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_retried_subscription_returns_the_first_answer_and_one_row(
    api_url: str, admin_key: str, api_db: str
) -> None:
    hook = f"https://hooks.example.com/{uuid.uuid4().hex}"
    body = {"url": hook, "event_types": ["decision.declined"]}
    sent = _as(admin_key, uuid.uuid4().hex)
    first = httpx.post(f"{api_url}/v1/webhooks/subscriptions", json=body, headers=sent)
    again = httpx.post(f"{api_url}/v1/webhooks/subscriptions", json=body, headers=sent)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content  # the same id, the same generated secret
    assert again.headers["Idempotent-Replayed"] == "true"
    count = "SELECT count(*) FROM webhook_subscriptions WHERE url = %s"
    assert _count(api_db, count, hook) == 1


def test_a_retried_rule_creation_returns_the_first_answer(
    api_url: str, admin_key: str, api_db: str
) -> None:
    name = f"retried-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "expression": "amount > 5000", "action": "REVIEW"}
    sent = _as(admin_key, uuid.uuid4().hex)
    first = httpx.post(f"{api_url}/v1/rules", json=body, headers=sent)
    again = httpx.post(f"{api_url}/v1/rules", json=body, headers=sent)
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.json() == first.json()  # not a 409 "a rule named ... exists"
    assert _count(api_db, "SELECT count(*) FROM rules WHERE name = %s", name) == 1


def test_the_same_key_with_another_body_is_refused(api_url: str, admin_key: str) -> None:
    sent = _as(admin_key, uuid.uuid4().hex)
    url = f"{api_url}/v1/webhooks/subscriptions"
    hook = f"https://hooks.example.com/{uuid.uuid4().hex}"
    body = {"url": hook, "event_types": ["decision.declined"]}
    assert httpx.post(url, json=body, headers=sent).status_code == 201
    other = httpx.post(url, json=body | {"event_types": ["*"]}, headers=sent)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_a_refused_request_does_not_hold_its_key(api_url: str, admin_key: str) -> None:
    sent = _as(admin_key, uuid.uuid4().hex)
    url = f"{api_url}/v1/webhooks/subscriptions"
    hook = f"https://hooks.example.com/{uuid.uuid4().hex}"
    refused = httpx.post(url, json={"url": hook, "event_types": []}, headers=sent)
    assert refused.status_code == 422
    # The corrected request, under the same key, is a first request: nothing was stored.
    fixed = httpx.post(url, json={"url": hook, "event_types": ["*"]}, headers=sent)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_without_the_header_admin_posts_work_as_before(api_url: str, admin_key: str) -> None:
    hook = f"https://hooks.example.com/{uuid.uuid4().hex}"
    body = {"url": hook, "event_types": ["decision.review"]}
    url = f"{api_url}/v1/webhooks/subscriptions"
    ids = {httpx.post(url, json=body, headers=_as(admin_key, None)).json()["subscription_id"]}
    ids.add(httpx.post(url, json=body, headers=_as(admin_key, None)).json()["subscription_id"])
    assert len(ids) == 2
