"""A transaction id reused with other content is refused before anything is published
(issue 18, item 8): a real API process, Redis and Kafka."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import headers, read_transactions, transaction

pytestmark = pytest.mark.integration


def post(api_url: str, key: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{api_url}/v1/transactions", json=body, headers=headers(key), timeout=5)


def test_a_reused_id_for_another_account_is_409_and_not_published(
    api_url: str, ingest_key: str, topic_prefix: str
) -> None:
    first = transaction(amount="10.00")
    assert post(api_url, ingest_key, first).status_code == 202
    # Another account, another amount, another Idempotency-Key: the same id all the same.
    reuse = transaction(transaction_id=first["transaction_id"], amount="9000.00")
    refused = post(api_url, ingest_key, reuse)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "transaction_id_conflict"
    assert refused.json()["details"] == {"transaction_id": first["transaction_id"]}
    published = [
        t for t in read_transactions(topic_prefix) if t.transaction_id == first["transaction_id"]
    ]
    assert [(t.account_id, str(t.amount)) for t in published] == [(first["account_id"], "10.0000")]


def test_the_same_transaction_sent_again_under_another_key_is_still_accepted(
    api_url: str, ingest_key: str
) -> None:
    body = transaction()
    assert post(api_url, ingest_key, body).status_code == 202
    # A gateway retry with a fresh Idempotency-Key: the same content, so no conflict
    # (downstream, the decision id derives from the transaction id: nothing doubles).
    assert post(api_url, ingest_key, body).status_code == 202


def test_a_batch_rejects_only_the_conflicting_item(
    api_url: str, ingest_key: str, topic_prefix: str
) -> None:
    taken = transaction()
    assert post(api_url, ingest_key, taken).status_code == 202
    fresh = transaction()
    clash = transaction(transaction_id=taken["transaction_id"], amount="1.00")
    response = httpx.post(
        f"{api_url}/v1/transactions/batch",
        json={"transactions": [fresh, clash]},
        headers=headers(ingest_key),
        timeout=5,
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["results"][1]["status"] == "rejected"
    assert answer["results"][1]["error"]["code"] == "transaction_id_conflict"
    ids = [t.transaction_id for t in read_transactions(topic_prefix)]
    assert ids.count(fresh["transaction_id"]) == 1
    assert ids.count(taken["transaction_id"]) == 1


def test_authorize_refuses_a_reused_id_with_409(api_url: str, ingest_key: str) -> None:
    first = transaction()
    assert post(api_url, ingest_key, first).status_code == 202
    reuse = transaction(transaction_id=first["transaction_id"])
    response = httpx.post(
        f"{api_url}/v1/authorize",
        params={"deadline_ms": 100},
        json=reuse,
        headers=headers(ingest_key),
        timeout=5,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "transaction_id_conflict"
