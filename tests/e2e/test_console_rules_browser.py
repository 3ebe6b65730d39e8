"""The Rules pages in a real browser (Debian's Chromium via Playwright): an analyst types a
broken rule and sees the error at its line and column as they type, fixes it, dry-runs it,
saves it in shadow, activates it, and the rule reaches the rules table as active; then a
transaction produced to the module's transactions topic is decided by a real agent worker
(the module's pipeline: agent, ledger sink) with the new rule, and the analyst sees the
DECLINE and the rule that fired on the console's transaction page."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from schemas.enums import Channel, TxType
from schemas.records import Transaction
from tests.support.agents import produce
from tests.support.browser import screenshots, signed_in
from tests.support.e2e import Pipeline

pytestmark = pytest.mark.e2e


def big_abroad(account: str) -> Transaction:
    """A transaction the rule declines: over 5,000 and abroad (the account has no home yet:
    ``country != home_country`` holds, as the rule engine documents)."""
    return Transaction(
        transaction_id=f"tx-{uuid.uuid4().hex[:12]}",
        account_id=account,
        card_token="tok_abcdefgh",
        amount=Decimal("6000.00"),
        currency="INR",
        merchant_id="m-big",
        country="BR",
        channel=Channel.ECOM,
        timestamp=datetime.now(UTC),
        type=TxType.DEBIT,
    )


def decided(dsn: str, transaction_id: str, timeout: float = 60) -> tuple[str, list[str]]:
    """The ledger's outcome and fired rule ids of a transaction, once the sink wrote it."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT d.outcome::text, coalesce(array_agg(h.rule_id::text)"
                " FILTER (WHERE NOT h.shadow), '{}') FROM decisions d LEFT JOIN"
                " decision_rule_hits h USING (decision_id) WHERE d.transaction_id = %s"
                " GROUP BY d.outcome",
                (transaction_id,),
            ).fetchone()
            if row is not None:
                return row[0], list(row[1])
            time.sleep(0.2)
    pytest.fail(f"{transaction_id} was not decided within {timeout} s")


def declined_by(pipeline: Pipeline, rule_id: str) -> str:
    """A transaction the agent declined with ``rule_id`` fired. The agents apply a rule
    from the rules topic within a second of its publication, so one produced at once may
    still meet the rule set before it: that one is decided without it, and another goes."""
    deadline = time.monotonic() + 30
    while True:
        tx = big_abroad(f"acct-{uuid.uuid4().hex[:8]}")
        produce(pipeline.prefix, [tx])
        outcome, rules = decided(pipeline.dsn, tx.transaction_id)
        if outcome == "DECLINE" and rule_id in rules:
            return tx.transaction_id
        assert time.monotonic() < deadline, (outcome, rules)
        time.sleep(0.5)


def test_an_analyst_fixes_a_broken_rule_as_they_type_saves_and_activates_it(
    console_url: str,
    api_db: str,
    pipeline: Pipeline,
    make_user: Callable[[str], str],
    tmp_path: Path,
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
        # The live decision: the running agent worker decides with the activated rule.
        rule_id = _rule_id(api_db, rule)
        transaction_id = declined_by(pipeline, rule_id)
        page.goto(f"{console_url}/console/transactions/{transaction_id}")
        expect(page.locator("#decision-outcome")).to_have_text("DECLINE")
        expect(page.locator("ul.rules-fired")).to_contain_text(f"{rule_id} v2: DECLINE")
    with psycopg.connect(api_db) as conn:
        stored = conn.execute(
            "SELECT v.version, v.mode, v.expression FROM rule_versions v JOIN rules r"
            " USING (rule_id) WHERE r.name = %s ORDER BY v.version",
            (rule,),
        ).fetchall()
    expression = "amount > 5000.0 and\n  country != home_country"
    assert stored == [(1, "shadow", expression), (2, "active", expression)]


def _rule_id(dsn: str, name: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT rule_id::text FROM rules WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return str(row[0])
