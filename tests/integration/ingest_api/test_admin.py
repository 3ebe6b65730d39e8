"""Rules, lists and profiles through the admin API: PostgreSQL versions and audit, and the
records the agents follow on the compacted topics (rules through the outbox relay)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from schemas.codec import decode_account_profile, decode_named_list
from schemas.topics import ACCOUNTS, LISTS
from tests.support.agents import read_topic
from tests.support.relay import await_rule, in_order

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin(make_key: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key('admin')}"}


def latest(topic: str, key: str) -> bytes | None:
    values = [m.value() for m in read_topic(topic, settle_s=0.5) if m.key() == key.encode()]
    return values[-1] if values else None


@pytest.mark.usefixtures("rules_relay")
def test_rule_lifecycle_versions_audit_and_topic(
    api_url: str, admin: dict[str, str], topic_prefix: str
) -> None:
    name = f"away-{uuid.uuid4().hex[:6]}"
    created = httpx.post(
        f"{api_url}/v1/rules",
        headers=admin,
        json={
            "name": name,
            "description": "design card example",
            "action": "REVIEW",
            "expression": "amount > 5000 && home_country != null && country != home_country",
            "priority": 10,
            "mode": "shadow",
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["version"], rule["mode"], rule["author"]) == (1, "shadow", "test")

    changed = httpx.post(
        f"{api_url}/v1/rules/{rule['rule_id']}/versions",
        headers=admin,
        json={"mode": "active", "action": "SCORE+0.25"},
    )
    assert (changed.status_code, changed.json()["version"]) == (201, 2)
    assert changed.json()["score_delta"] == 0.25
    disabled = httpx.post(f"{api_url}/v1/rules/{rule['rule_id']}/disable", headers=admin)
    assert disabled.json()["mode"] == "disabled"

    detail = httpx.get(f"{api_url}/v1/rules/{rule['rule_id']}", headers=admin).json()
    assert [v["version"] for v in detail["versions"]] == [3, 2, 1]
    assert [(a["action"], a["from_version"], a["to_version"]) for a in detail["audit"]] == [
        ("create", None, 1),
        ("update", 1, 2),
        ("disable", 2, 3),
    ]
    assert detail["audit"][1]["diff"]["mode"] == {"from": "shadow", "to": "active"}

    # 201 once committed; the relay publishes it: the newest version, never an older after.
    records = await_rule(topic_prefix, rule["rule_id"], 3)
    assert in_order(records)[-1] == 3
    record = records[-1]
    assert (record.version, record.mode.value, record.name) == (3, "disabled", name)
    assert (record.action, record.score_delta) == ("SCORE+0.25", 0.25)


def test_an_invalid_expression_is_422_with_its_position(
    api_url: str, admin: dict[str, str]
) -> None:
    response = httpx.post(
        f"{api_url}/v1/rules",
        headers=admin,
        json={
            "name": f"bad-{uuid.uuid4().hex[:6]}",
            "action": "DECLINE",
            "expression": "amount > 5000 &&\n  contry != 'IN'",
        },
    )
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "rule_invalid"
    assert (error["details"]["line"], error["details"]["column"]) == (2, 3)
    assert "country" in error["message"]


def test_a_taken_name_is_409(api_url: str, admin: dict[str, str]) -> None:
    body = {"name": f"dup-{uuid.uuid4().hex[:6]}", "action": "REVIEW", "expression": "amount > 1"}
    assert httpx.post(f"{api_url}/v1/rules", headers=admin, json=body).status_code == 201
    again = httpx.post(f"{api_url}/v1/rules", headers=admin, json=body)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")


def test_validate_tries_a_rule_on_a_sample(api_url: str, admin: dict[str, str]) -> None:
    body = {
        "expression": "amount > 5000 && country != home_country",
        "sample": {"amount": "6000.00", "country": "FR"},
        "home_country": "IN",
    }
    answer = httpx.post(f"{api_url}/v1/rules/validate", headers=admin, json=body).json()
    assert answer == {"valid": True, "fired": True, "runtime_error": None}


def test_lists_are_versioned_as_whole_records_on_their_topic(
    api_url: str, admin: dict[str, str], topic_prefix: str
) -> None:
    name = f"blocked_{uuid.uuid4().hex[:6]}"
    created = httpx.post(
        f"{api_url}/v1/lists",
        headers=admin,
        json={"name": name, "kind": "merchants", "values": ["m-1", "m-2"]},
    )
    assert created.status_code == 201, created.text
    httpx.post(f"{api_url}/v1/lists/{name}/items", headers=admin, json={"values": ["m-3"]})
    removed = httpx.delete(f"{api_url}/v1/lists/{name}/items/m-1", headers=admin)
    assert removed.json()["values"] == ["m-2", "m-3"]
    record = decode_named_list(latest(f"{topic_prefix}{LISTS.name}", name))
    assert (record.kind, record.values) == ("merchants", ("m-2", "m-3"))


def test_profile_upsert_reaches_the_accounts_topic(
    api_url: str, admin: dict[str, str], topic_prefix: str
) -> None:
    account = f"acct-{uuid.uuid4().hex[:6]}"
    body = {"home_country": "IN", "home_lat": 18.52, "home_lon": 73.85}
    assert (
        httpx.put(f"{api_url}/v1/accounts/{account}/profile", headers=admin, json=body).status_code
        == 200
    )
    profile = decode_account_profile(latest(f"{topic_prefix}{ACCOUNTS.name}", account))
    assert (profile.home_country, profile.home_lat) == ("IN", 18.52)
    bad = httpx.put(
        f"{api_url}/v1/accounts/{account}/profile", headers=admin, json={"home_country": "ZZ"}
    )
    assert bad.status_code == 422


def test_dry_run_counts_hits_and_labelled_fraud_on_ledger_rows(
    api_url: str, admin: dict[str, str], api_db: str
) -> None:
    account = f"acct-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(api_db, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO accounts (account_id, home_country) VALUES (%s, 'IN')", (account,)
        )
        for n, amount in enumerate(["10.00", "9000.00", "12000.00"]):
            tid = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO transactions (transaction_id, account_id, card_token, amount,"
                " currency, merchant_id, country, channel, event_ts, type) VALUES"
                " (%s, %s, 'tok_abcdefgh', %s, 'INR', %s, 'FR', 'ECOM', now(), 'debit')",
                (tid, account, Decimal(amount), f"dry-{account}"),
            )
            conn.execute(
                "INSERT INTO decisions (decision_id, transaction_id, account_id, outcome,"
                " risk_score, features, ingested_at, decided_at) VALUES"
                " (gen_random_uuid(), %s, %s, 'APPROVE', 0.1, %s, now(), now())",
                (tid, account, Jsonb({"count_1h": float(n + 1)})),
            )
            if amount == "12000.00":
                conn.execute(
                    "INSERT INTO labels VALUES (%s, %s, %s, true, 'test', now(), now())",
                    (tid, account, f"dry-{account}"),
                )
    body = {
        "expression": f"merchant_id == 'dry-{account}' && amount > 5000 && count_1h >= 2",
        "limit": 1000,
    }
    report = httpx.post(f"{api_url}/v1/rules/dry-run", headers=admin, json=body).json()
    assert (report["hits"], report["hits_labelled_fraud"], report["runtime_errors"]) == (2, 1, 0)


def test_admin_routes_need_the_admin_scope(api_url: str, ingest_key: str) -> None:
    response = httpx.get(f"{api_url}/v1/rules", headers={"Authorization": f"Bearer {ingest_key}"})
    assert response.status_code == 403
