"""Rule backtests and maker-checker in a real browser (Debian's Chromium via Playwright),
on a console with SENTINEL_CONSOLE_MAKER_CHECKER on: an analyst backtests a draft from the
editor and reads candidate against live as its worker process finishes; then saves it,
which waits on the pending changes page until a second analyst approves it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from tests.support.backtests import history
from tests.support.browser import screenshots, signed_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str]) -> dict[str, str]:
    return {**console_env, "SENTINEL_CONSOLE_MAKER_CHECKER": "true"}


def draft(page: Page, console_url: str) -> None:
    page.goto(f"{console_url}/console/rules/new")
    page.get_by_label("Name").fill("over-fifty")
    page.locator("textarea[name=expression]").fill("amount > 50.0")
    page.get_by_label("Action").fill("DECLINE")


def test_an_analyst_backtests_a_draft_and_a_second_analyst_approves_it(
    console_url: str,
    api_db: str,
    topic_prefix: str,
    make_user: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    history(topic_prefix, api_db)
    maker, checker = make_user("analyst"), make_user("analyst")
    shots = screenshots(tmp_path)
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    with signed_in(console_url, maker, height=1100) as page:
        draft(page, console_url)
        page.get_by_label("From (UTC)").fill(since)
        page.get_by_role("button", name="Backtest the draft").click()
        # htmx follows the worker's progress, then reloads the page with the result.
        expect(page.locator("#backtest-status")).to_have_text("done", timeout=90_000)
        declines = page.locator('tr[data-outcome="Declines"]')
        expect(declines.locator(".live")).to_have_text("2")
        expect(declines.locator(".candidate")).to_have_text("5")
        expect(page.locator('tr[data-measure="precision"]')).to_contain_text("40.0%")
        expect(page.locator("svg.backtest-chart rect.candidate")).to_have_count(4)
        page.screenshot(path=str(shots / "rules-backtest.png"), full_page=True)

        draft(page, console_url)
        page.get_by_role("button", name="Save").click()
        expect(page).to_have_url(f"{console_url}/console/rules/pending")
        expect(page.locator(".pending.pending .hint")).to_have_text(
            "Your change: another analyst approves it."
        )
    with psycopg.connect(api_db) as conn:
        assert conn.execute("SELECT count(*) FROM rules").fetchone() == (0,)
    with signed_in(console_url, checker, height=900) as page:
        page.goto(f"{console_url}/console/rules/pending")
        held = page.locator("section.pending.pending")
        expect(held.locator("pre.diff")).to_contain_text("+amount > 50.0")
        page.screenshot(path=str(shots / "rules-pending.png"), full_page=True)
        held.get_by_role("button", name="Approve and publish").click()
        expect(page.locator("#rule-state")).to_have_text("shadow")
        expect(page.locator("h1")).to_contain_text("over-fifty")
    with psycopg.connect(api_db) as conn:
        stored = conn.execute("SELECT name, created_by FROM rules").fetchall()
    assert stored == [("over-fifty", f"console:{maker}")]
