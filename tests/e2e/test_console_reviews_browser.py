"""The review queue in a real browser (Debian's Chromium via Playwright) with the real
reviews sink: an analyst claims and approves a case, and the ledger entry, the
``decision.resolved`` webhook event and the label appear; a viewer can read a case but
not claim or resolve it; a form posted without its CSRF token is refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ledger_sink.reviews import RESOLVED_EVENT, ReviewsSettings
from ledger_sink.testing import decision, transaction
from schemas.codec import decode_label, decode_webhook_event
from schemas.records import Outcome, ReasonCode, RuleHit, TxType, webhook_event_id_for
from tests.integration.ledger_sink.support import read_all, wait_until
from tests.support.browser import screenshots, signed_in
from tests.support.console import write_ledger

pytestmark = pytest.mark.e2e


def test_an_analyst_approves_a_review_and_the_money_moves(
    console_url: str,
    api_db: str,
    topic_prefix: str,
    reviews_sink: ReviewsSettings,
    make_user: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    account = f"acct-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC) - timedelta(minutes=50)
    credit = transaction(account, "100.00", tx_type=TxType.CREDIT, at=at)
    review = decision(
        credit,
        Outcome.REVIEW,
        risk_score=0.41,
        rules=(RuleHit(rule_id="first-credit", version=1, action="REVIEW"),),
    )
    review = replace(
        review,
        reason_codes=(
            ReasonCode(feature="account_age_days", value=0.0, contribution=0.22),
            ReasonCode(feature="amount_zscore", value=3.1, contribution=0.12),
            ReasonCode(feature="merchant_risk", value=0.01, contribution=-0.05),
        ),
    )
    debit = decision(transaction(account, "30.25", at=at + timedelta(minutes=1)))
    write_ledger(api_db, [review, debit])
    analyst, viewer = make_user("analyst"), make_user("viewer")
    folder = screenshots(tmp_path)
    case_url = f"{console_url}/console/reviews/{credit.transaction_id}"

    with signed_in(console_url, viewer) as page:
        page.goto(case_url)
        expect(page.get_by_text("an analyst can claim and resolve it")).to_be_visible()
        expect(page.get_by_role("button", name="Claim this case")).to_have_count(0)
        # Not even a hand-made request with the viewer's session and token: 403.
        token = page.locator('input[name="csrf_token"]').first.input_value()
        claim = page.request.post(f"{case_url}/claim", form={"csrf_token": token})
        assert claim.status == 403

    with signed_in(console_url, analyst, height=900) as page:
        page.get_by_role("link", name="Reviews").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        row = page.locator("tr", has_text=credit.transaction_id)
        expect(row).to_have_class("age-near")  # 50 minutes of a 60-minute SLA
        page.screenshot(path=str(folder / "reviews.png"), full_page=True)
        row.get_by_role("link", name=credit.transaction_id).click()
        expect(page.locator("svg.reasons rect")).to_have_count(3)
        # A form posted without its CSRF token, from the signed-in browser: refused.
        forged = page.request.post(f"{page.url}/claim", form={})
        assert forged.status == 403
        page.get_by_role("button", name="Claim this case").click()
        page.get_by_label("Approve: the money moves").check()
        page.get_by_label("Note").fill("Salary credit, the customer confirmed by phone")
        page.screenshot(path=str(folder / "review-case.png"), full_page=True)
        page.get_by_role("button", name="Resolve").click()
        expect(page.locator("#outcome")).to_contain_text("the ledger moved the money")
        page.screenshot(path=str(folder / "review-resolved.png"), full_page=True)
        page.goto(case_url)
        expect(page.locator(".resolved")).to_contain_text(f"by {analyst}")

    with psycopg.connect(api_db) as conn:
        kinds = conn.execute(
            "SELECT kind, amount FROM ledger_entries WHERE transaction_id = %s ORDER BY seq",
            [credit.transaction_id],
        ).fetchall()
        balance = conn.execute(
            "SELECT balance FROM balances WHERE account_id = %s", [account]
        ).fetchone()
    assert kinds == [("decision", Decimal("0.0000")), ("resolution", Decimal("100.0000"))]
    assert balance == (Decimal("69.7500"),)
    event_id = webhook_event_id_for(review.decision_id, RESOLVED_EVENT)
    assert wait_until(
        lambda: (
            event_id
            in {decode_webhook_event(r.value).event_id for r in read_all(f"{topic_prefix}webhooks")}
        ),
        10,
    )
    labels = [decode_label(r.value) for r in read_all(f"{topic_prefix}labels")]
    assert [(x.transaction_id, x.is_fraud) for x in labels] == [(credit.transaction_id, False)]
