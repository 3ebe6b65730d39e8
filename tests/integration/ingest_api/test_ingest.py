"""HTTP ingest against a real API process, Kafka, Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal

import httpx
import orjson
import pytest

from tests.support.api import headers, read_transactions, transaction

pytestmark = pytest.mark.integration


def test_accepted_transaction_is_durably_in_kafka_keyed_by_account(
    api_url: str, ingest_key: str, topic_prefix: str
) -> None:
    body = transaction(amount="999.99")
    response = httpx.post(f"{api_url}/v1/transactions", json=body, headers=headers(ingest_key))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "transaction_id": body["transaction_id"],
        "status": "accepted",
        "decision_url": f"/v1/decisions/{body['transaction_id']}",
    }
    [record] = [
        t for t in read_transactions(topic_prefix) if t.transaction_id == body["transaction_id"]
    ]
    assert record.amount == Decimal("999.99")
    assert record.account_id == body["account_id"]
    assert record.ingested_at is not None


def test_a_replayed_key_yields_the_same_response_and_one_record(
    api_url: str, ingest_key: str, topic_prefix: str
) -> None:
    body = transaction()
    sent = headers(ingest_key)
    first = httpx.post(f"{api_url}/v1/transactions", json=body, headers=sent)
    again = httpx.post(f"{api_url}/v1/transactions", json=body, headers=sent)
    assert first.status_code == again.status_code == 202
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    ids = [t.transaction_id for t in read_transactions(topic_prefix)]
    assert ids.count(body["transaction_id"]) == 1


def test_the_same_key_with_another_body_is_refused(api_url: str, ingest_key: str) -> None:
    sent = headers(ingest_key)
    assert (
        httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=sent).status_code
        == 202
    )
    other = httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=sent)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_fifty_concurrent_duplicates_publish_exactly_once(
    api_url: str, ingest_key: str, topic_prefix: str
) -> None:
    body = transaction()
    sent = headers(ingest_key)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
            return await asyncio.gather(
                *(client.post("/v1/transactions", json=body, headers=sent) for _ in range(50))
            )

    statuses = Counter(r.status_code for r in asyncio.run(burst()))
    assert set(statuses) <= {202, 409}
    assert statuses[202] >= 1
    ids = [t.transaction_id for t in read_transactions(topic_prefix)]
    assert ids.count(body["transaction_id"]) == 1


def test_idempotency_key_is_required(api_url: str, ingest_key: str) -> None:
    response = httpx.post(
        f"{api_url}/v1/transactions",
        json=transaction(),
        headers={"Authorization": f"Bearer {ingest_key}"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"


def test_invalid_body_is_422_with_the_path_of_each_bad_field(api_url: str, ingest_key: str) -> None:
    body = transaction(amount=12.5, country="ZZ", card_token="4111111111111111", extra="x")
    response = httpx.post(f"{api_url}/v1/transactions", json=body, headers=headers(ingest_key))
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "validation_failed"
    assert {d["path"] for d in error["details"]} == {"amount", "country", "card_token", "extra"}


def test_malformed_json_is_a_clean_422(api_url: str, ingest_key: str) -> None:
    response = httpx.post(
        f"{api_url}/v1/transactions", content=b"{not json", headers=headers(ingest_key)
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_batch_gives_a_result_per_item_and_publishes_the_valid_ones(
    api_url: str, ingest_key: str, topic_prefix: str
) -> None:
    good, bad = transaction(), transaction(currency="XXX1")
    batch = {"transactions": [good, bad, good]}
    response = httpx.post(
        f"{api_url}/v1/transactions/batch", json=batch, headers=headers(ingest_key)
    )
    assert response.status_code == 202, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (1, 2)
    assert [r["status"] for r in result["results"]] == ["accepted", "rejected", "rejected"]
    assert result["results"][1]["error"]["details"][0]["path"] == "currency"
    assert result["results"][2]["error"]["code"] == "duplicate_in_batch"
    ids = [t.transaction_id for t in read_transactions(topic_prefix)]
    assert ids.count(good["transaction_id"]) == 1


def test_batch_over_the_maximum_is_refused(api_url: str, ingest_key: str) -> None:
    batch = {"transactions": [transaction() for _ in range(501)]}
    response = httpx.post(
        f"{api_url}/v1/transactions/batch", json=batch, headers=headers(ingest_key), timeout=10
    )
    assert response.status_code == 422
    assert response.json()["details"] == {"items": 501, "max": 500}


def test_a_batch_is_counted_before_its_items_are_validated(api_url: str, ingest_key: str) -> None:
    batch = {"transactions": list(range(501))}  # not one item is an object
    response = httpx.post(
        f"{api_url}/v1/transactions/batch", json=batch, headers=headers(ingest_key)
    )
    assert response.status_code == 422
    assert response.json()["details"] == {"items": 501, "max": 500}


@pytest.mark.parametrize("chunked", [True, False])
def test_a_body_over_the_limit_is_413(api_url: str, ingest_key: str, chunked: bool) -> None:
    def chunks() -> Iterator[bytes]:  # sent chunked: no Content-Length to trust
        yield b'{"transactions": ['
        for _ in range(5_000):  # ~1.7 MB
            yield orjson.dumps(transaction()) + b","
        yield b"{}]}"

    content: Iterator[bytes] | bytes = chunks() if chunked else b"".join(chunks())
    response = httpx.post(
        f"{api_url}/v1/transactions/batch", content=content, headers=headers(ingest_key)
    )
    assert response.status_code == 413
    assert response.json() == {
        "code": "payload_too_large",
        "message": "the request body exceeds the limit of 1048576 bytes",
        "details": {"max_bytes": 1_048_576},
    }


@pytest.mark.parametrize(
    ("auth", "status", "code"),
    [
        (None, 401, "unauthorized"),
        ("Bearer sk_not-a-real-key", 401, "unauthorized"),
        ("Basic abc", 401, "unauthorized"),
    ],
)
def test_requests_without_a_valid_key_are_401(
    api_url: str, auth: str | None, status: int, code: str
) -> None:
    sent = {"Idempotency-Key": uuid.uuid4().hex} | ({"Authorization": auth} if auth else {})
    response = httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=sent)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert set(response.json()) == {"code", "message", "details"}


def test_a_key_without_the_ingest_scope_is_403(api_url: str, make_key: Callable[..., str]) -> None:
    reader = make_key("read")
    response = httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=headers(reader))
    assert response.status_code == 403
    assert response.json()["details"] == {"required_scope": "ingest"}


def test_rate_limit_is_per_key_with_retry_after(api_url: str, make_key: Callable[..., str]) -> None:
    slow, other = make_key("ingest", rate=1, burst=3), make_key("ingest")
    statuses = [
        httpx.post(f"{api_url}/v1/transactions", json=transaction(), headers=headers(slow))
        for _ in range(5)
    ]
    assert [r.status_code for r in statuses[:3]] == [202, 202, 202]
    refused = statuses[3]
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Limit"] == "3"
    unaffected = httpx.post(
        f"{api_url}/v1/transactions", json=transaction(), headers=headers(other)
    )
    assert unaffected.status_code == 202


def test_readyz_and_metrics(api_url: str) -> None:
    ready = httpx.get(f"{api_url}/readyz").json()
    assert ready == {"ready": True, "checks": {"kafka": True, "redis": True, "postgres": True}}
    metrics = httpx.get(f"{api_url}/metrics").text
    assert (
        'sentinel_api_requests_total{method="POST",route="/v1/transactions",status="202"}'
        in metrics
    )


def test_batch_items_json_cannot_carry_are_rejected_not_a_500(
    api_url: str, ingest_key: str
) -> None:
    # Found by schemathesis: a 30-digit integer parses, but cannot be re-encoded per item.
    raw = (
        b'{"transactions": [{"account_id": -15232184859514402159160459264, '
        b'"transaction_id": "1db7a402-9548-413b-8fc7-4076c88aa5c4"}]}'
    )
    response = httpx.post(
        f"{api_url}/v1/transactions/batch", content=raw, headers=headers(ingest_key)
    )
    assert response.status_code == 202, response.text
    [result] = response.json()["results"]
    assert (result["status"], result["error"]["details"][0]["type"]) == ("rejected", "json_invalid")
