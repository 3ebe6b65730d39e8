"""Search, the transaction page and the account page against the real PostgreSQL and Redis:
decisions written by the real ledger writer, entries tampered with around the database's
guards. The console verifies at most CHAIN_LIMIT entries per chain here."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from urllib.parse import quote

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ledger_sink.labels import LabelWriter
from schemas.connections import PostgresConnection
from schemas.records import Label
from tests.support.console import sign_in, write_account

pytestmark = pytest.mark.integration
CHAIN_LIMIT = 4
TX_LINK = re.compile(r'href="/console/transactions/([^"]+)"')
NEXT_LINK = re.compile(r'href="([^"]+)" rel="next"')


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str]) -> dict[str, str]:
    return {**console_env, "SENTINEL_CONSOLE_CHAIN_CHECK_ENTRIES": str(CHAIN_LIMIT)}


@pytest.fixture
def viewer(console_url: str, make_user: Callable[[str], str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=10) as client:
        assert sign_in(client, make_user("viewer")).status_code == 303
        yield client


@pytest.fixture
def tamper(api_db: str) -> Iterator[psycopg.Connection]:
    """A superuser session with triggers (and foreign keys) switched off: around the guards."""
    admin = PostgresConnection().admin_dsn.get_secret_value()
    dbname = str(conninfo_to_dict(api_db)["dbname"])
    with psycopg.connect(make_conninfo(admin, dbname=dbname), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn


def account_id() -> str:
    return f"acct/{uuid.uuid4().hex[:8]} ü"  # a "/", a space, a non-ASCII letter: one segment


def page(path: str, ident: str) -> str:
    return f"/console/{path}/{quote(ident, safe='')}"


def test_search_goes_to_the_transaction_or_the_account_page(
    viewer: httpx.Client, api_db: str
) -> None:
    account = account_id()
    made = write_account(api_db, account, ["APPROVE"])
    tid = made[0].transaction_id
    found = viewer.get("/console/search", params={"q": f"  {tid} "})
    assert found.status_code == 303 and found.headers["location"] == page("transactions", tid)
    found = viewer.get("/console/search", params={"q": account})
    assert found.status_code == 303 and found.headers["location"] == page("accounts", account)
    assert viewer.get(found.headers["location"]).status_code == 200


@pytest.mark.parametrize(
    ("q", "status", "message"),
    [
        ("no-such-id", 200, "No transaction or account has the id"),
        ("x" * 257, 400, "an id must be 1 to 256 characters"),
        ("4111111111111111", 400, "looks like a card number"),
    ],
)
def test_search_says_what_it_could_not_find_or_refused(
    viewer: httpx.Client, q: str, status: int, message: str
) -> None:
    answer = viewer.get("/console/search", params={"q": q})
    assert answer.status_code == status and message in html.unescape(answer.text)


def test_the_pages_need_a_session(console_url: str) -> None:
    for path in ("/console/search?q=x", page("transactions", "x"), page("accounts", "x")):
        answer = httpx.get(console_url + path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/signin"


def test_the_transaction_page_shows_its_decision_entries_and_label(
    viewer: httpx.Client, api_db: str
) -> None:
    account = account_id()
    first = write_account(api_db, account, ["REVIEW", "DECLINE"])[0]
    writer = LabelWriter(api_db)
    try:
        writer.write(
            [
                Label(
                    transaction_id=first.transaction_id,
                    account_id=account,
                    merchant_id=first.transaction.merchant_id,
                    is_fraud=True,
                    labelled_at=first.decided_at,
                    transaction_timestamp=first.transaction.timestamp,
                    scenario="card_testing",
                )
            ]
        )
    finally:
        writer.close()
    with psycopg.connect(api_db) as conn:
        entry_id, hash_hex = conn.execute(
            "SELECT entry_id, encode(entry_hash, 'hex') FROM ledger_entries"
            " WHERE transaction_id = %s",
            (first.transaction_id,),
        ).fetchone() or (None, None)
    shown = viewer.get(page("transactions", first.transaction_id))
    assert shown.status_code == 200
    text = shown.text
    assert '<dd id="tx-amount">1.2500 EUR</dd>' in text
    for fact in ("m-0", "POS", "debit", "test-model", "0.0500", "big-abroad v3: REVIEW"):
        assert fact in text, fact
    assert 'id="decision-outcome">REVIEW<' in text
    assert "amount_zscore" in text and "+0.3100" in text
    assert f"<td>{entry_id}</td><td>1</td><td>REVIEW</td>" in text
    assert str(hash_hex)[:12] in text
    assert "Confirmed fraud (card_testing)" in text
    assert f'href="{page("accounts", account)}"' in text
    undecided = viewer.get(page("transactions", "no-such-transaction"))
    assert undecided.status_code == 404


def test_the_account_page_pages_its_history_newest_first_and_filters_it(
    viewer: httpx.Client, api_db: str
) -> None:
    account = account_id()
    outcomes = ["APPROVE", "DECLINE", "REVIEW"] * 18 + ["APPROVE"]  # 55: two pages of 50
    made = write_account(api_db, account, outcomes)
    newest_first = [quote(d.transaction_id, safe="") for d in reversed(made)]
    first = viewer.get(page("accounts", account))
    assert first.status_code == 200
    with psycopg.connect(api_db) as conn:
        balance = conn.execute(
            "SELECT balance, currency FROM balances WHERE account_id = %s", (account,)
        ).fetchone()
    assert balance is not None and balance[0] < Decimal(0)
    assert f'<dd id="balance">{balance[0]} {balance[1]}</dd>' in first.text
    assert TX_LINK.findall(first.text) == newest_first[:50]
    older = NEXT_LINK.search(first.text)
    assert older is not None
    second = viewer.get(older.group(1).replace("&amp;", "&"))
    assert TX_LINK.findall(second.text) == newest_first[50:]
    assert NEXT_LINK.search(second.text) is None and "Newest</a>" in second.text
    declines = viewer.get(page("accounts", account), params={"outcome": "DECLINE"})
    declined = [quote(d.transaction_id, safe="") for d in reversed(made) if d.outcome == "DECLINE"]
    assert TX_LINK.findall(declines.text) == declined
    day = made[0].transaction.timestamp.date().isoformat()
    dated = viewer.get(page("accounts", account), params={"from": day, "to": day})
    in_day = [d for d in made if d.transaction.timestamp.date().isoformat() == day]
    assert len(TX_LINK.findall(dated.text)) == min(len(in_day), 50)
    # The chain is longer than the bound: its last entries are verified, and the page says so.
    assert "Verified the last 4 of 55 entries (seq 52 to 55)" in first.text
    assert '<dd id="chain-verdict">OK</dd>' in first.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"outcome": "MAYBE"}, "unknown outcome"),
        ({"from": "2026-12-05", "to": "2026-12-01"}, "after the 'to' date"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "page link is malformed"),
    ],
)
def test_filters_it_cannot_apply_are_a_400_page(
    viewer: httpx.Client, api_db: str, params: dict[str, str], message: str
) -> None:
    account = account_id()
    write_account(api_db, account, ["APPROVE"])
    answer = viewer.get(page("accounts", account), params=params)
    assert answer.status_code == 400 and message in html.unescape(answer.text)


def test_an_unknown_account_is_a_404(viewer: httpx.Client) -> None:
    answer = viewer.get(page("accounts", "no-such-account"))
    assert answer.status_code == 404 and "no account no-such-account" in answer.text


def test_a_tampered_entry_shows_the_chain_broken_at_it(
    viewer: httpx.Client, api_db: str, tamper: psycopg.Connection
) -> None:
    account = account_id()
    write_account(api_db, account, ["APPROVE", "APPROVE", "DECLINE"])
    intact = viewer.get(page("accounts", account)).text
    assert "Verified all 3 entries, from seq 1." in intact and "Every link checked holds" in intact
    tamper.execute(
        "UPDATE ledger_entries SET amount = amount + 100 WHERE account_id = %s AND seq = 2",
        (account,),
    )
    broken = html.unescape(viewer.get(page("accounts", account)).text)
    assert '<dd id="chain-verdict">BROKEN</dd>' in broken
    assert "First broken link: seq 2: entry_hash does not match the entry's contents" in broken


def test_a_balance_not_pointing_at_the_last_entry_shows_broken(
    viewer: httpx.Client, api_db: str, tamper: psycopg.Connection
) -> None:
    account = account_id()
    write_account(api_db, account, ["APPROVE", "APPROVE"])
    first_entry, last_entry = (
        row[0]
        for row in tamper.execute(
            "SELECT entry_id FROM ledger_entries WHERE account_id = %s ORDER BY seq", (account,)
        ).fetchall()
    )
    tamper.execute(
        "UPDATE balances SET last_entry_id = %s WHERE account_id = %s", (first_entry, account)
    )
    shown = html.unescape(viewer.get(page("accounts", account)).text)
    assert '<dd id="chain-verdict">BROKEN</dd>' in shown and "Every link checked holds" in shown
    assert f"points at entry {first_entry}, but the chain's last entry is {last_entry}" in shown
