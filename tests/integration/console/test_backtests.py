"""Backtests on the real PostgreSQL, Kafka and Redis: transactions produced to the module's
own topics and decided in its ledger by the real ledger writer, labels on its labels topic,
then a draft backtested from the console in a worker process through the replay engine:
the stored result counts what the candidate and the ledger decided, and the labels."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.support.backtests import history
from tests.support.console import page_token, sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def analyst(console_url: str, make_user: Callable[[str], str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=30) as client:
        assert sign_in(client, make_user("analyst")).status_code == 303
        yield client


def wait_done(client: httpx.Client, url: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(url)
        assert page.status_code == 200, page.text
        if 'id="backtest-status"' in page.text:
            return page.text
        time.sleep(0.5)
    pytest.fail(f"the backtest did not end in {timeout} s")


def cell(page: str, outcome: str, side: str) -> int:
    found = re.search(rf'data-outcome="{outcome}">.*?class="num {side}">([\d,]+)<', page, re.DOTALL)
    assert found is not None, outcome
    return int(found.group(1).replace(",", ""))


def test_a_backtested_draft_counts_candidate_and_live_decisions_and_the_labels(
    analyst: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    txs = history(topic_prefix, api_db)
    token = page_token(analyst, "/console/rules/new")
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    until = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    started = analyst.post(
        "/console/rules/backtests",
        data={
            "csrf_token": token,
            "name": "over fifty",
            "expression": "amount > 50.0",
            "action": "DECLINE",
            "since": since,
            "until": until,
        },  # fmt: skip
    )
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    page = wait_done(analyst, url)
    assert 'class="bt-status done"' in page, page
    assert [cell(page, o, "live") for o in ("Approvals", "Reviews", "Declines")] == [6, 2, 2]
    assert [cell(page, o, "candidate") for o in ("Approvals", "Reviews", "Declines")] == [5, 0, 5]

    backtest_id = int(url.rsplit("/", 1)[1])
    with psycopg.connect(api_db) as conn:
        row = conn.execute(
            "SELECT status, rule_id, rule_version, requested_by, result, progress_read,"
            " progress_total, started_at IS NOT NULL FROM rule_backtests WHERE backtest_id = %s",
            (backtest_id,),
        ).fetchone()
        audited = conn.execute(
            "SELECT detail->>'version' FROM console_audit WHERE action = 'rule.backtest'"
            " AND detail->>'backtest_id' = %s",
            (str(backtest_id),),
        ).fetchall()
    assert row is not None
    status, rule_id, version, _by, result, read, total, started_at = row
    assert (status, rule_id, version, started_at) == ("done", None, None, True)
    assert read == total == len(txs)
    assert audited == [("draft",)]
    assert result["totals"]["replayed"] == 10 and result["totals"]["changed"] == 4
    labels = result["labels"]
    assert (labels["fraud"], labels["confirmed_good"]) == (3, 1)
    # Live caught 3, 7, 8, 9 (fraud 3, 9); the candidate declines 5..9 (fraud 6, 9).
    assert (labels["fraud_caught_live"], labels["fraud_caught_replay"]) == (2, 2)
    assert "50.0%" in page and "40.0%" in page and "66.7%" in page  # precision, recall


def test_a_range_longer_than_the_limit_keeps_the_draft_and_starts_nothing(
    analyst: httpx.Client, api_db: str
) -> None:
    token = page_token(analyst, "/console/rules/new")
    refused = analyst.post(
        "/console/rules/backtests",
        data={
            "csrf_token": token,
            "expression": "amount > 7.0",
            "action": "REVIEW",
            "since": "2026-01-01T00:00",
            "until": "2026-01-20T00:00",
        },  # fmt: skip
    )
    assert refused.status_code == 422
    assert "at most 7 days" in refused.text and "amount &gt; 7.0" in refused.text
    with psycopg.connect(api_db) as conn:
        count = conn.execute(
            "SELECT count(*) FROM rule_backtests WHERE candidate->>'expression' = 'amount > 7.0'"
        ).fetchone()
    assert count == (0,)


def test_a_viewer_cannot_start_a_backtest(
    console_url: str, make_user: Callable[[str], str]
) -> None:
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=30) as viewer:
        assert sign_in(viewer, make_user("viewer")).status_code == 303
        token = page_token(viewer)
        refused = viewer.post(
            "/console/rules/backtests",
            data={
                "csrf_token": token,
                "expression": "amount > 1.0",
                "action": "REVIEW",
                "since": "2026-01-01T00:00",
                "until": "2026-01-02T00:00",
            },  # fmt: skip
        )
    assert refused.status_code == 403
