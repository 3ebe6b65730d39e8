"""POST /v1/labels and `sentinel labels import` on the real stack: a chargeback for a
transaction in the ledger lands on the labels topic with every field right; an unknown
transaction is a 404, a key without the scope a 403, a retry a replay; a file's good rows
are published and its bad ones reported."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from confluent_kafka import Message
from typer.testing import CliRunner

from schemas.codec import decode_label
from schemas.records import Label
from schemas.topics import LABELS
from sentinel_cli.main import app
from tests.support.api import headers, read_records

pytestmark = pytest.mark.integration

EVENT_TS = (datetime.now(UTC) - timedelta(days=45)).replace(microsecond=0)


def record(api_db: str, account_id: str, merchant_id: str = "m-7") -> str:
    """A transaction in the ledger, as the sink writes it; its id."""
    tid = str(uuid.uuid4())
    with psycopg.connect(api_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO accounts (account_id, home_country) VALUES (%s, 'IN')"
            " ON CONFLICT DO NOTHING",
            (account_id,),
        )
        conn.execute(
            "INSERT INTO transactions (transaction_id, account_id, card_token, amount, currency,"
            " merchant_id, country, channel, event_ts, type, ingested_at)"
            " VALUES (%s, %s, 'tok_abcdef12', 99.50, 'INR', %s, 'IN', 'ECOM', %s, 'debit', %s)",
            (tid, account_id, merchant_id, EVENT_TS, EVENT_TS),
        )
    return tid


def published(prefix: str) -> list[tuple[bytes | None, Label]]:
    def decode(message: Message) -> tuple[bytes | None, Label]:
        return message.key(), decode_label(message.value())

    return read_records(f"{prefix}{LABELS.name}", decode)


@pytest.fixture(scope="module")
def labels_key(make_key: Callable[..., str]) -> str:
    return make_key("labels")


def post(
    api_url: str, key: str, body: dict[str, object], idem: str | None = None
) -> httpx.Response:
    return httpx.post(f"{api_url}/v1/labels", json=body, headers=headers(key, idem), timeout=10)


def test_a_chargeback_reaches_the_labels_topic_keyed_by_account(
    api_url: str, api_db: str, topic_prefix: str, labels_key: str
) -> None:
    account = f"acct-{uuid.uuid4().hex[:6]}"
    tid = record(api_db, account)
    arrived = datetime.now(UTC).replace(microsecond=250000) - timedelta(minutes=5)
    body = {"transaction_id": tid, "kind": "chargeback", "labelled_at": arrived.isoformat(),
            "reason": "10.4 other fraud, card absent"}  # fmt: skip
    response = post(api_url, labels_key, body)
    assert response.status_code == 202, response.text
    expected = Label(
        transaction_id=tid, account_id=account, merchant_id="m-7", is_fraud=True,
        scenario="chargeback", labelled_at=arrived, transaction_timestamp=EVENT_TS,
        reason="10.4 other fraud, card absent",
    )  # fmt: skip
    assert response.json() == {
        "transaction_id": tid, "account_id": account, "merchant_id": "m-7",
        "kind": "chargeback", "is_fraud": True, "reason": "10.4 other fraud, card absent",
        "labelled_at": arrived.isoformat(), "transaction_timestamp": EVENT_TS.isoformat(),
    }  # fmt: skip
    ours = [(key, label) for key, label in published(topic_prefix) if label.transaction_id == tid]
    assert ours == [(account.encode(), expected)]


def test_without_labelled_at_the_label_is_dated_when_received(
    api_url: str, api_db: str, labels_key: str
) -> None:
    tid = record(api_db, "acct-genuine")
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = post(api_url, labels_key, {"transaction_id": tid, "kind": "confirmed_genuine"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["is_fraud"], body["kind"], body["reason"]) == (False, "confirmed_genuine", None)
    assert before <= datetime.fromisoformat(body["labelled_at"]) <= datetime.now(UTC)


def test_an_unknown_transaction_is_a_404_the_caller_sees(api_url: str, labels_key: str) -> None:
    tid = str(uuid.uuid4())
    response = post(api_url, labels_key, {"transaction_id": tid, "kind": "confirmed_fraud"})
    assert response.status_code == 404
    assert response.json()["code"] == "transaction_not_found"
    assert response.json()["details"] == {"transaction_id": tid}


def test_a_key_without_the_labels_scope_is_forbidden(
    api_url: str, api_db: str, ingest_key: str
) -> None:
    tid = record(api_db, "acct-scope")
    response = post(api_url, ingest_key, {"transaction_id": tid, "kind": "chargeback"})
    assert response.status_code == 403
    assert response.json()["details"] == {"required_scope": "labels"}


def test_a_labelled_at_before_the_transaction_is_refused(
    api_url: str, api_db: str, labels_key: str
) -> None:
    tid = record(api_db, "acct-early")
    early = (EVENT_TS - timedelta(days=1)).isoformat()
    body = {"transaction_id": tid, "kind": "chargeback", "labelled_at": early}
    response = post(api_url, labels_key, body)
    assert response.status_code == 422
    assert response.json()["details"][0]["type"] == "labelled_at_before_transaction"


def test_a_retry_with_the_same_idempotency_key_replays_and_publishes_nothing(
    api_url: str, api_db: str, topic_prefix: str, labels_key: str
) -> None:
    tid = record(api_db, "acct-retry")
    body = {"transaction_id": tid, "kind": "confirmed_fraud"}
    first = post(api_url, labels_key, body, "retry-1")
    again = post(api_url, labels_key, body, "retry-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sum(1 for _key, x in published(topic_prefix) if x.transaction_id == tid) == 1
    other = post(api_url, labels_key, {**body, "kind": "chargeback"}, "retry-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_the_import_publishes_good_rows_and_reports_bad_ones(
    api_db: str, topic_prefix: str, tmp_path: Path
) -> None:
    late, genuine = record(api_db, "acct-file-1"), record(api_db, "acct-file-2", "m-9")
    unknown, early = str(uuid.uuid4()), record(api_db, "acct-file-3")
    arrived = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    path = tmp_path / "chargebacks.csv"
    path.write_text(
        "transaction_id,kind,labelled_at,reason\n"
        f"{late},chargeback,{arrived.isoformat()},4837\n"
        f"{genuine},confirmed_genuine,,\n"
        f"{unknown},chargeback,,\n"
        f"{early},chargeback,{(EVENT_TS - timedelta(hours=1)).isoformat()},\n"
        f"{late},dispute,,\n"
        f"{genuine},chargeback,,card 4111 1111 1111 1111\n"
    )
    env = {"SENTINEL_POSTGRES_DSN": api_db, "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix}
    result = CliRunner().invoke(app, ["labels", "import", str(path)], env=env)
    assert result.exit_code == 1, result.output
    assert "6 rows: 2 labels published, 4 rejected" in result.output
    for line, code in ((4, "transaction_not_found"), (5, "validation_failed"),
                       (6, "validation_failed"), (7, "validation_failed")):  # fmt: skip
        assert f"│ {line} " in result.output and code in result.output
    assert "4111" not in result.output  # the refused card number is never shown
    ours = {x.transaction_id: (key, x) for key, x in published(topic_prefix)}
    key, chargeback = ours[late]
    assert key == b"acct-file-1"
    assert (chargeback.is_fraud, chargeback.scenario, chargeback.reason) == (
        True,
        "chargeback",
        "4837",
    )
    assert (chargeback.labelled_at, chargeback.transaction_timestamp) == (arrived, EVENT_TS)
    assert (ours[genuine][1].is_fraud, ours[genuine][1].merchant_id) == (False, "m-9")
    assert unknown not in ours and early not in ours
