"""The console in a real browser: Debian's Chromium, driven by Playwright, signs in through
the real sign-in page, sees the Overview and signs out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.browser import chromium, screenshots, watched
from tests.support.console import PASSWORD, write_decisions

pytestmark = pytest.mark.e2e


def test_an_analyst_signs_in_through_the_page_and_out_again(
    console_url: str, api_db: str, make_user: Callable[[str], str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    name = make_user("analyst")
    write_decisions(api_db, {"APPROVE": 41, "REVIEW": 4, "DECLINE": 2})
    shots = screenshots(tmp_path)
    with chromium() as browser, watched(browser) as page:
        page.goto(f"{console_url}/console/")
        expect(page).to_have_url(f"{console_url}/console/signin")
        page.screenshot(path=str(shots / "signin.png"))
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{console_url}/console/")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.locator("#total")).to_have_text("47")
        expect(page.get_by_text(f"{name} (analyst)")).to_be_visible()
        # htmx is loaded from the vendored file (the CSP allows nothing else).
        assert page.evaluate("typeof htmx !== 'undefined' && htmx.version") == "2.0.11"
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{console_url}/console/signin")
        page.goto(f"{console_url}/console/")
        expect(page).to_have_url(f"{console_url}/console/signin")
