"""The dead letters and webhooks pages in a real browser (Debian's Chromium via Playwright):
an analyst lists a dead letter, opens it, re-drives it; the webhooks page renders, with the
delivery statistics the dispatcher's own flusher wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ledger_sink.webhooks.stats import DeliveryStats, StatsFlusher
from tests.support.browser import screenshots, signed_in
from tests.support.dead_letters import write_letters, write_webhook_letter

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str], topic_prefix: str) -> dict[str, str]:
    return {**console_env, "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix}


def subscribe(dsn: str, url: str) -> str:
    with psycopg.connect(dsn) as db:
        row = db.execute(
            "INSERT INTO webhook_subscriptions (url, secret, event_types)"
            " VALUES (%s, %s, %s) RETURNING subscription_id::text",
            (url, "whsec_" + "x" * 32, ["decision.declined", "decision.review"]),
        ).fetchone()
    assert row is not None
    return str(row[0])


def delivery_stats(dsn: str, subscription_id: str) -> None:
    """A minute of deliveries through the dispatcher's statistics code: 40 answered within
    20-60 ms, three 503s retried (two taken back), one without an answer."""
    stats = DeliveryStats()
    for n in range(40):
        stats.attempted(subscription_id, 204, True, 0.02 + n / 1000)
    for _ in range(3):
        stats.attempted(subscription_id, 503, False, 0.3)
        stats.retries_scheduled(subscription_id)
    stats.retries_taken(subscription_id, 2)
    stats.attempted(subscription_id, None, False, 10.0)
    flusher = StatsFlusher(stats, dsn, 1)

    async def flush() -> int:
        try:
            return await flusher.flush()
        finally:
            await flusher.close()

    assert asyncio.run(flush()) == 1


def test_an_analyst_lists_opens_and_redrives_a_dead_letter(
    console_url: str,
    api_db: str,
    topic_prefix: str,
    make_user: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    written = write_letters(topic_prefix, ["invalid_transaction", "unknown_schema_id"], pan=True)
    letter_id = str(written[-1][0])
    sub = subscribe(api_db, "https://hooks.example.com/fraud")
    subscribe(api_db, "https://ops.example.net/sentinel")
    write_webhook_letter(topic_prefix, sub, "8 attempts; the last: HTTP 503")
    delivery_stats(api_db, sub)
    shots = screenshots(tmp_path)
    name = make_user("analyst")
    with signed_in(console_url, name) as page:
        page.get_by_role("link", name="Dead letters").click()
        expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
        page.screenshot(path=str(shots / "dead-letters.png"), full_page=True)
        page.get_by_role("link", name=letter_id, exact=True).click()
        expect(page.get_by_role("heading", name=f"Dead letter {letter_id}")).to_be_visible()
        expect(page.locator("#redriven")).to_have_text("no")
        page.get_by_role("button", name="Re-drive").click()
        expect(page.get_by_role("status")).to_contain_text("re-driven to")
        expect(page.locator("#redriven")).to_have_text("yes")
        page.get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhook subscriptions")).to_be_visible()
        expect(page.locator(f"#sub-{sub} .wh-dead")).to_have_text("1")
        expect(page.locator(f"#sub-{sub} .wh-deliveries")).to_have_text("44")
        expect(page.locator(f"#sub-{sub} .wh-pending")).to_have_text("1")
        page.screenshot(path=str(shots / "webhooks.png"), full_page=True)
