"""Read endpoints over ledger rows written the way the sink writes them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import orjson
import psycopg
import pytest
from psycopg.types.json import Jsonb

from schemas.records import decision_id_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def account(api_db: str) -> dict[str, object]:
    """An account with five decided transactions an hour apart and a balance."""
    account_id = f"acct-{uuid.uuid4().hex[:8]}"
    tids = [str(uuid.uuid4()) for _ in range(5)]
    outcomes = ["APPROVE", "DECLINE", "APPROVE", "REVIEW", "APPROVE"]
    with psycopg.connect(api_db, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO accounts (account_id, home_country) VALUES (%s, 'IN')", (account_id,)
        )
        for n, (tid, outcome) in enumerate(zip(tids, outcomes, strict=True)):
            conn.execute(
                "INSERT INTO transactions (transaction_id, account_id, card_token, amount,"
                " currency, merchant_id, country, channel, event_ts, type, ingested_at)"
                " VALUES (%s, %s, 'tok_abcdef12', %s, 'INR', 'm-1', 'IN', 'POS', %s, 'debit', %s)",
                (
                    tid,
                    account_id,
                    Decimal(f"{100 + n}.25"),
                    T0 + timedelta(hours=n),
                    T0 + timedelta(hours=n),
                ),
            )
            conn.execute(
                "INSERT INTO decisions (decision_id, transaction_id, account_id, outcome,"
                " risk_score, model_version, features, reason_codes, ingested_at, decided_at)"
                " VALUES (%s, %s, %s, %s, 0.5, 'm1', %s, %s, %s, %s)",
                (
                    decision_id_for(tid),
                    tid,
                    account_id,
                    outcome,
                    Jsonb({"amount": 100.25}),
                    Jsonb([{"feature": "amount", "value": 100.25, "contribution": 0.1}]),
                    T0 + timedelta(hours=n),
                    T0 + timedelta(hours=n, seconds=1),
                ),
            )
        conn.execute(
            "INSERT INTO decision_rule_hits VALUES (%s, 'r-big', 3, 'DECLINE', false),"
            " (%s, 'r-new', 1, 'REVIEW', true)",
            (decision_id_for(tids[1]), decision_id_for(tids[1])),
        )
        conn.execute(
            "INSERT INTO balances (account_id, balance, currency) VALUES (%s, -302.75, 'INR')",
            (account_id,),
        )
    return {"id": account_id, "tids": tids}


@pytest.fixture(scope="module")
def reader(make_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key('read')}"}


def test_transaction_and_decision_by_id(
    api_url: str, reader: dict[str, str], account: dict
) -> None:
    tid = account["tids"][1]
    tx = httpx.get(f"{api_url}/v1/transactions/{tid}", headers=reader).json()
    assert (tx["amount"], tx["channel"], tx["timestamp"]) == (
        "101.2500",
        "POS",
        (T0 + timedelta(hours=1)).isoformat(),
    )
    decision = httpx.get(f"{api_url}/v1/decisions/{tid}", headers=reader).json()
    assert decision["decision_id"] == decision_id_for(tid)
    assert decision["outcome"] == "DECLINE"
    assert decision["rules_fired"] == [{"rule_id": "r-big", "version": 3, "action": "DECLINE"}]
    assert decision["shadow_rules_fired"] == [
        {"rule_id": "r-new", "version": 1, "action": "REVIEW"}
    ]


def test_history_pages_newest_first_without_gaps(
    api_url: str, reader: dict[str, str], account: dict
) -> None:
    url, seen, cursor = f"{api_url}/v1/accounts/{account['id']}/transactions", [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = httpx.get(url, params=params, headers=reader).json()
        seen += [item["transaction_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(account["tids"]))


def test_history_filters_by_time_range_and_outcome(
    api_url: str, reader: dict[str, str], account: dict
) -> None:
    url = f"{api_url}/v1/accounts/{account['id']}/transactions"
    approved = httpx.get(url, params={"outcome": "APPROVE"}, headers=reader).json()["items"]
    assert [i["transaction_id"] for i in approved] == [account["tids"][i] for i in (4, 2, 0)]
    window = {
        "from": (T0 + timedelta(hours=1)).isoformat(),
        "to": (T0 + timedelta(hours=3)).isoformat(),
    }
    ranged = httpx.get(url, params=window, headers=reader).json()["items"]
    assert [i["transaction_id"] for i in ranged] == [account["tids"][2], account["tids"][1]]


def test_balance(api_url: str, reader: dict[str, str], account: dict) -> None:
    balance = httpx.get(f"{api_url}/v1/accounts/{account['id']}/balance", headers=reader).json()
    assert (balance["balance"], balance["currency"]) == ("-302.7500", "INR")


def test_unknown_ids_are_404_and_bad_cursors_422(api_url: str, reader: dict[str, str]) -> None:
    missing = httpx.get(f"{api_url}/v1/decisions/{uuid.uuid4()}", headers=reader)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    bad = httpx.get(
        f"{api_url}/v1/accounts/a/transactions", params={"cursor": "%%%"}, headers=reader
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")


def test_a_nul_byte_in_a_cursor_is_422_not_500(api_url: str, reader: dict[str, str]) -> None:
    # Well-formed base64 and JSON, but PostgreSQL cannot hold the id it carries.
    cursor = base64.urlsafe_b64encode(orjson.dumps([T0.isoformat(), "tx\x00"])).decode()
    response = httpx.get(
        f"{api_url}/v1/accounts/a/transactions", params={"cursor": cursor}, headers=reader
    )
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")


@pytest.mark.parametrize("value", ["0.5", "1733300000", "yesterday"])
def test_history_bounds_are_rfc3339_only(api_url: str, reader: dict[str, str], value: str) -> None:
    # The schema says date-time; a number of seconds since the epoch was taken as one.
    response = httpx.get(
        f"{api_url}/v1/accounts/a/transactions", params={"to": value}, headers=reader
    )
    assert (response.status_code, response.json()["code"]) == (422, "validation_failed")


def test_reads_need_the_read_scope(
    api_url: str, make_key: Callable[..., str], account: dict
) -> None:
    ingest_only = {"Authorization": f"Bearer {make_key('ingest')}"}
    response = httpx.get(f"{api_url}/v1/accounts/{account['id']}/balance", headers=ingest_only)
    assert response.status_code == 403
