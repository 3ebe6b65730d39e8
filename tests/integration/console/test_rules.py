"""The Rules pages on the real PostgreSQL, Kafka and Redis: a save, an activation and a
disable reach the rules table, and through the rules relay the module's own rules topic
(each rule's newest version, never an older after a newer), audited; the list counts
hits the real ledger writer recorded; the dry run reads the ledger's decided transactions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from schemas.records import Outcome, RuleHit
from tests.support.console import page_token, sign_in
from tests.support.relay import await_rule, in_order

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rules_relay")]
BIG_ABROAD = "amount > 5000.0 and\n  country != home_country"


@pytest.fixture
def analyst(console_url: str, make_user: Callable[[str], str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=30) as client:
        assert sign_in(client, make_user("analyst")).status_code == 303
        yield client


def versions(dsn: str, rule_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT version, mode, expression, author FROM rule_versions WHERE rule_id = %s"
            " ORDER BY version",
            (rule_id,),
        ).fetchall()


def audit_of(dsn: str, rule_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT action, detail->>'from_version', detail->>'to_version' FROM console_audit"
            " WHERE target = %s ORDER BY audit_id",
            (rule_id,),
        ).fetchall()


def create(client: httpx.Client, name: str, expression: str = BIG_ABROAD, **extra: str) -> str:
    token = page_token(client, "/console/rules/new")
    form = {"csrf_token": token, "name": name, "expression": expression, "action": "DECLINE"}
    answer = client.post("/console/rules/new", data={**form, **extra})
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/console/rules/([0-9a-f-]{36})/versions", answer.headers["location"])
    assert found is not None
    return found.group(1)


def set_mode(client: httpx.Client, rule_id: str, mode: str, expected: int) -> httpx.Response:
    token = page_token(client, f"/console/rules/{rule_id}/versions")
    form = {"csrf_token": token, "mode": mode, "expected_version": str(expected)}
    return client.post(f"/console/rules/{rule_id}/mode", data=form)


def test_save_activate_disable_reach_the_rules_table_and_topic_audited(
    analyst: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    rule_id = create(analyst, f"big-abroad-{uuid.uuid4().hex[:6]}")
    assert set_mode(analyst, rule_id, "active", 1).status_code == 303
    assert set_mode(analyst, rule_id, "disabled", 2).status_code == 303
    stored = versions(api_db, rule_id)
    assert [(v, m) for v, m, _, _ in stored] == [(1, "shadow"), (2, "active"), (3, "disabled")]
    assert all(e == BIG_ABROAD and a.startswith("console:t-analyst-") for _, _, e, a in stored)
    on_topic = await_rule(topic_prefix, rule_id, 3)
    modes = {1: "shadow", 2: "active", 3: "disabled"}
    assert in_order(on_topic)[-1] == 3
    assert all(r.mode.value == modes[r.version] for r in on_topic)
    assert on_topic[-1].expression == BIG_ABROAD and on_topic[-1].action == "DECLINE"
    assert audit_of(api_db, rule_id) == [
        ("rule.created", None, "1"),
        ("rule.activated", "1", "2"),
        ("rule.disabled", "2", "3"),
    ]


def test_a_new_version_from_the_editor_and_its_diff(
    analyst: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    rule_id = create(analyst, f"edit-{uuid.uuid4().hex[:6]}")
    token = page_token(analyst, f"/console/rules/{rule_id}/edit")
    changed = BIG_ABROAD.replace("5000.0", "8000.0")
    form = {"csrf_token": token, "expected_version": "1", "expression": changed}
    answer = analyst.post(
        f"/console/rules/{rule_id}/edit", data={**form, "action": "REVIEW", "priority": "5"}
    )
    assert answer.status_code == 303, answer.text
    assert [e for _, _, e, _ in versions(api_db, rule_id)] == [BIG_ABROAD, changed]
    assert in_order(await_rule(topic_prefix, rule_id, 2))[-1] == 2
    page = analyst.get(f"/console/rules/{rule_id}/versions").text
    assert '<span class="del">-amount &gt; 5000.0 and</span>' in page
    assert '<span class="add">+amount &gt; 8000.0 and</span>' in page
    assert '<span class="add">+action: REVIEW</span>' in page
    assert audit_of(api_db, rule_id)[-1] == ("rule.updated", "1", "2")


def test_a_stale_version_or_a_broken_rule_saves_nothing(
    analyst: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    rule_id = create(analyst, f"stale-{uuid.uuid4().hex[:6]}")
    assert set_mode(analyst, rule_id, "active", 1).status_code == 303
    stale = set_mode(analyst, rule_id, "disabled", 1)  # the page showed version 1
    assert stale.status_code == 409 and "now version 2" in stale.text
    token = page_token(analyst, f"/console/rules/{rule_id}/edit")
    form = {"csrf_token": token, "expected_version": "2", "action": "DECLINE"}
    broken = analyst.post(
        f"/console/rules/{rule_id}/edit",
        data={**form, "expression": "amount > 1.0 and\n  country != home_countr"},
    )
    assert broken.status_code == 422
    assert 'data-line="2" data-column="14"' in broken.text
    assert [v for v, *_ in versions(api_db, rule_id)] == [1, 2]
    assert in_order(await_rule(topic_prefix, rule_id, 2))[-1] == 2
    assert [a for a, *_ in audit_of(api_db, rule_id)] == ["rule.created", "rule.activated"]


def test_the_live_check_answers_each_problem_at_its_line_and_column(
    analyst: httpx.Client,
) -> None:
    token = page_token(analyst, "/console/rules/new")
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    broken = {"expression": "amount > 1.0 and\n  (country != ", "action": "REVIEW"}
    answer = analyst.post("/console/rules/validate", data=broken, headers=headers)
    assert answer.status_code == 200
    assert 'data-line="2" data-column="15"' in answer.text and "line 2, column 15" in answer.text
    good = analyst.post(
        "/console/rules/validate",
        data={"expression": BIG_ABROAD, "action": "REVIEW"},
        headers=headers,
    )
    assert "The rule compiles." in good.text
    refused = analyst.post("/console/rules/validate", data=broken)  # no CSRF token
    assert refused.status_code == 403


def test_a_viewer_reads_the_list_and_versions_but_changes_nothing(
    console_url: str, analyst: httpx.Client, make_user: Callable[[str], str], api_db: str
) -> None:
    rule_id = create(analyst, f"viewer-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=10) as viewer:
        assert sign_in(viewer, make_user("viewer")).status_code == 303
        assert viewer.get("/console/rules").status_code == 200
        assert viewer.get(f"/console/rules/{rule_id}/versions").status_code == 200
        assert viewer.get(f"/console/rules/{rule_id}/edit").status_code == 403
        assert set_mode(viewer, rule_id, "active", 1).status_code == 403
    assert [v for v, *_ in versions(api_db, rule_id)] == [1]


def test_the_list_counts_hits_the_ledger_recorded_and_the_dry_run_reads_decisions(
    analyst: httpx.Client, api_db: str
) -> None:
    from ledger_sink.testing import decision, transaction
    from ledger_sink.writer import LedgerWriter

    name = f"hits-{uuid.uuid4().hex[:6]}"
    rule_id = create(analyst, name, "amount > 7777.0")
    hit = RuleHit(rule_id=rule_id, version=1, action="DECLINE")
    now = datetime.now(UTC)

    def made(minutes_ago: int, outcome: Outcome, amount: str = "8000.00") -> Any:
        tx = transaction(
            f"acct-{uuid.uuid4().hex[:8]}", amount, at=now - timedelta(minutes=minutes_ago)
        )
        return decision(tx, outcome, shadow_rules=(hit,))

    made_ = [
        made(2, Outcome.APPROVE),  # last hour, would change
        made(3, Outcome.DECLINE),  # last hour, would not
        made(180, Outcome.REVIEW),  # last day, would change
        made(30 * 60, Outcome.APPROVE),  # older than a day: not counted
    ]
    writer = LedgerWriter(api_db)
    try:
        assert writer.write(made_).written == 4
    finally:
        writer.close()
    page = analyst.get("/console/rules").text
    row = page[page.index(f'data-rule="{name}"') :].split("</tr>", 1)[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    assert cells == ["0", "0", "2 / 3", "2"]

    token = page_token(analyst, "/console/rules/new")
    report = analyst.post(
        "/console/rules/dry-run",
        data={"expression": "amount > 7777.0", "action": "DECLINE"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert report.status_code == 200, report.text
    hits = int(re.search(r'id="dry-hits">(\d+)<', report.text).group(1))  # type: ignore[union-attr]
    changed = int(re.search(r'id="dry-changed">(\d+)<', report.text).group(1))  # type: ignore[union-attr]
    # This module's other tests wrote no decisions over 7777: exactly these four.
    assert (hits, changed) == (4, 3)
