"""The Rules pages in a real browser (Debian's Chromium via Playwright): an analyst types a
broken rule and sees the error at its line and column as they type, fixes it, dry-runs it,
saves it in shadow, activates it, and the rule reaches the rules table as active."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.support.browser import screenshots, signed_in

pytestmark = pytest.mark.e2e


def test_an_analyst_fixes_a_broken_rule_as_they_type_saves_and_activates_it(
    console_url: str, api_db: str, make_user: Callable[[str], str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    user, rule = make_user("analyst"), f"big-abroad-{uuid.uuid4().hex[:6]}"
    shots = screenshots(tmp_path)
    with signed_in(console_url, user, height=900) as page:
        page.get_by_role("link", name="Rules").click()
        page.get_by_role("link", name="New rule").click()
        page.get_by_label("Name").fill(rule)
        editor = page.locator("textarea[name=expression]")
        editor.click()
        # Typed key by key, as an analyst would: htmx checks 400 ms after the last key.
        editor.press_sequentially("amount > 5000.0 and\n  country != home_countr", delay=15)
        problem = page.locator("#check .problem")
        expect(problem).to_have_attribute("data-line", "2")
        expect(problem).to_have_attribute("data-column", "14")
        expect(problem).to_contain_text("did you mean 'home_country'")
        page.screenshot(path=str(shots / "rules-editor-error.png"), full_page=True)
        editor.press("End")
        editor.press_sequentially("y", delay=15)
        expect(page.locator("#check .valid")).to_have_text("The rule compiles.")
        page.get_by_label("Action").fill("DECLINE")
        page.get_by_role("button", name="Dry run").click()
        expect(page.locator("#dry-evaluated")).to_be_visible()
        page.screenshot(path=str(shots / "rules-editor.png"), full_page=True)
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#rule-state")).to_have_text("shadow")
        page.get_by_role("button", name="Activate").click()
        expect(page.locator("#rule-state")).to_have_text("active")
        expect(page.locator("pre.diff .add").first).to_have_text("+mode: active")
        page.screenshot(path=str(shots / "rules-versions.png"), full_page=True)
        page.get_by_role("link", name="Rules", exact=True).click()
        expect(page.locator(f'tr[data-rule="{rule}"] .state')).to_have_text("active")
        page.screenshot(path=str(shots / "rules.png"), full_page=True)
    with psycopg.connect(api_db) as conn:
        stored = conn.execute(
            "SELECT v.version, v.mode, v.expression FROM rule_versions v JOIN rules r"
            " USING (rule_id) WHERE r.name = %s ORDER BY v.version",
            (rule,),
        ).fetchall()
    expression = "amount > 5000.0 and\n  country != home_country"
    assert stored == [(1, "shadow", expression), (2, "active", expression)]
