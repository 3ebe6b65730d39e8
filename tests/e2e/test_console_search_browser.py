"""Search in a real browser: Debian's Chromium, driven by Playwright, searches a transaction
id from the header, reads its page, and opens its account's page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.browser import screenshots, signed_in
from tests.support.console import write_account

pytestmark = pytest.mark.e2e


def test_a_viewer_searches_a_transaction_and_opens_its_account(
    console_url: str, api_db: str, make_user: Callable[[str], str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    name = make_user("viewer")
    account = f"acct-{uuid.uuid4().hex[:8]}"
    made = write_account(api_db, account, ["APPROVE", "DECLINE", "APPROVE", "REVIEW", "APPROVE"])
    wanted = made[3]
    shots = screenshots(tmp_path)
    with signed_in(console_url, name) as page:
        expect(page).to_have_url(f"{console_url}/console/")
        search = page.get_by_label("Search by id")
        search.fill("no-such-transaction")
        search.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("No transaction or account")
        page.screenshot(path=str(shots / "search-not-found.png"), full_page=True)
        page.get_by_label("Search by id").fill(wanted.transaction_id)
        page.get_by_role("banner").get_by_role("button", name="Search").click()
        expect(page).to_have_url(f"{console_url}/console/transactions/{wanted.transaction_id}")
        expect(page.locator("#decision-outcome")).to_have_text("REVIEW")
        expect(page.locator("#tx-amount")).to_have_text("4.2500 EUR")
        page.screenshot(path=str(shots / "transaction.png"), full_page=True)
        page.locator("#account-link").click()
        expect(page).to_have_url(f"{console_url}/console/accounts/{quote(account, safe='')}")
        expect(page.locator("#chain-verdict")).to_have_text("OK")
        expect(page.locator("#chain-checked")).to_have_text("Verified all 5 entries, from seq 1.")
        expect(page.locator("table.history tbody tr")).to_have_count(5)
        page.screenshot(path=str(shots / "account.png"), full_page=True)
        page.get_by_label("Outcome").select_option("DECLINE")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.history tbody tr")).to_have_count(1)
        # The form's GET: empty dates mean any.
        expect(page).to_have_url(re.compile(r"\?outcome=DECLINE&from=&to=$"))
