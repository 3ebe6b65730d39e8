"""The Models and Lists pages in a real browser (Debian's Chromium via Playwright): an
admin reads the registry's versions and the live comparison, opens a version's card with
its precision-recall figure and promotes it; then adds and removes list members."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from fraudsim.announce import announced
from ledger_sink.testing import decision, transaction
from schemas.connections import KafkaConnection
from schemas.records import Outcome
from tests.support.browser import screenshots, signed_in
from tests.support.console import write_ledger
from tests.support.models import (
    announce_model,
    card_like_training,
    draw_pr_curve,
    train_tiny_model,
)

pytestmark = pytest.mark.e2e
VERSIONS = ("xgb-20261201-100000", "xgb-20261203-100000")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry")
    for seed, version in enumerate(VERSIONS, start=1):
        train_tiny_model(root, version, rounds=10 + seed, card=card_like_training(seed * 2))
        draw_pr_curve(root / version, seed)
    return root


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str], registry: Path, topic_prefix: str) -> dict[str, str]:
    return {
        **console_env,
        "SENTINEL_KAFKA_TOPIC_PREFIX": topic_prefix,
        "SENTINEL_CONSOLE_MODEL_REGISTRY": str(registry),
    }


def shadow_scored(dsn: str, count: int) -> None:
    """Decisions the challenger scored beside the champion, a third of them labelled fraud."""
    at = datetime.now(UTC) - timedelta(minutes=30)
    made = []
    for n in range(count):
        tx = transaction(f"acct-{n % 7}", f"{10 + n}.00", at=at + timedelta(seconds=n))
        champion, challenger = (n * 37 % 100) / 100, (n * 53 % 100) / 100
        made.append(
            replace(
                decision(tx, Outcome.APPROVE, risk_score=champion),
                model_version=VERSIONS[0],
                challenger_model_version=VERSIONS[1],
                challenger_score=challenger,
            )
        )
    write_ledger(dsn, made)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for d in made[::3]:
            conn.execute(
                "INSERT INTO labels (transaction_id, account_id, merchant_id, is_fraud,"
                " labelled_at, transaction_ts) VALUES (%s, %s, %s, true, now(), %s)",
                (
                    d.transaction_id,
                    d.account_id,
                    d.transaction.merchant_id,
                    d.transaction.timestamp,
                ),
            )


def make_list(dsn: str, name: str, values: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO lists (list_name, kind, description) VALUES (%s, 'merchants', %s)",
            (name, "merchants whose card-present traffic is declined"),
        )
        for value in values:
            conn.execute(
                "INSERT INTO list_items (list_name, value, added_by) VALUES (%s, %s, 'api:ops')",
                (name, value),
            )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO lists (list_name, kind, description) VALUES"
            " ('trusted_devices', 'devices', 'devices confirmed by the card holder')"
        )


def test_an_admin_reads_models_promotes_one_and_edits_a_list(
    console_url: str,
    api_db: str,
    topic_prefix: str,
    registry: Path,
    make_user: Callable[[str], str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    announce_model(topic_prefix, VERSIONS[0])
    announce_model(topic_prefix, VERSIONS[1], role="challenger")
    shadow_scored(api_db, 60)
    make_list(api_db, "blocked_merchants", ["m-fraud-ring-1", "m-fraud-ring-2", "m-test-shop"])
    shots = screenshots(tmp_path)
    with signed_in(console_url, make_user("admin"), height=900) as page:
        page.get_by_role("link", name="Models").click()
        expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible()
        expect(page.locator("#md-champion")).to_contain_text(VERSIONS[0])
        expect(page.locator("#md-challenger")).to_contain_text(VERSIONS[1])
        expect(page.locator("table.md-compare tbody tr")).to_have_count(1)
        page.screenshot(path=str(shots / "models.png"), full_page=True)

        page.locator("table.models").get_by_role("link", name=VERSIONS[1]).click()
        figure = page.get_by_role("img", name=f"Precision-recall of {VERSIONS[1]}")
        expect(figure).to_be_visible()
        assert figure.evaluate("img => img.naturalWidth") > 100  # the PNG loaded, not a 404
        page.screenshot(path=str(shots / "model.png"), full_page=True)
        page.get_by_role("button", name="Promote to champion").click()
        expect(page.locator("#md-result")).to_contain_text(f"{VERSIONS[1]} is champion")
        expect(page.locator("#md-result")).to_contain_text("no longer shadows as challenger")
        roles = announced(KafkaConnection(topic_prefix=topic_prefix))
        assert roles["champion"].version == VERSIONS[1] and "challenger" not in roles

        page.get_by_role("link", name="Lists").click()
        expect(page.get_by_role("heading", name="Lists")).to_be_visible()
        page.get_by_role("link", name="blocked_merchants").click()
        page.get_by_label("Add members, one a line").fill("m-new-1\nm-new-2")
        page.get_by_role("button", name="Add").click()
        expect(page.locator("#ls-count")).to_have_text("5")
        page.locator('tr[data-value="m-test-shop"]').get_by_role("button", name="Remove").click()
        expect(page.locator("#ls-count")).to_have_text("4")
        expect(page.locator('tr[data-value="m-new-2"]')).to_contain_text("console:")
        page.screenshot(path=str(shots / "lists.png"), full_page=True)
    with psycopg.connect(api_db) as conn:
        rows = conn.execute(
            "SELECT value FROM list_items WHERE list_name = 'blocked_merchants' ORDER BY value"
        ).fetchall()
    assert [v for (v,) in rows] == ["m-fraud-ring-1", "m-fraud-ring-2", "m-new-1", "m-new-2"]
