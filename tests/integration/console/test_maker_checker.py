"""Maker-checker on the real PostgreSQL, Kafka and Redis (a console with
SENTINEL_CONSOLE_MAKER_CHECKER on): a change is held, off the rules table and topic, until
a second analyst approves it; its maker cannot; a rejection needs a note; all audited."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from tests.support.console import page_token, sign_in
from tests.support.relay import await_rule
from tests.support.relay import rule_records as rules_on_topic

# The relay runs throughout: a held change must stay off the topic because nothing was
# committed, not because nothing publishes.
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rules_relay")]


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str]) -> dict[str, str]:
    return {**console_env, "SENTINEL_CONSOLE_MAKER_CHECKER": "true"}


@contextmanager
def analyst_client(console_url: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=30) as client:
        assert sign_in(client, name).status_code == 303
        yield client


def pending_ids(dsn: str, rule_id: str | None = None) -> list[tuple[int, str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT change_id, rule_id::text, status FROM rule_changes_pending"
            " WHERE %(rule)s::uuid IS NULL OR rule_id = %(rule)s::uuid ORDER BY change_id",
            {"rule": rule_id},
        ).fetchall()
    return [(int(a), b, c) for a, b, c in rows]


def actions(dsn: str, rule_id: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT actor, action FROM console_audit WHERE target = %s ORDER BY audit_id",
            (rule_id,),
        ).fetchall()
    return [(a, b) for a, b in rows]


def test_a_held_rule_is_published_only_when_a_second_analyst_approves_it(
    console_url: str, api_db: str, topic_prefix: str, make_user: Callable[[str], str]
) -> None:
    maker_name, checker_name = make_user("analyst"), make_user("analyst")
    with analyst_client(console_url, maker_name) as maker:
        token = page_token(maker, "/console/rules/new")
        made = maker.post(
            "/console/rules/new",
            data={
                "csrf_token": token,
                "name": "held-big",
                "expression": "amount > 9000.0",
                "action": "DECLINE",
                "mode": "active",
            },  # fmt: skip
        )
        assert made.status_code == 303 and made.headers["location"] == "/console/rules/pending"
        ((change_id, rule_id, status),) = pending_ids(api_db)
        assert status == "pending"
        with psycopg.connect(api_db) as conn:
            assert conn.execute("SELECT count(*) FROM rules").fetchone() == (0,)
        assert rules_on_topic(topic_prefix, rule_id) == []
        page = maker.get("/console/rules/pending")
        assert "Your change: another analyst approves it." in page.text
        assert "+expression:" in page.text and "+amount &gt; 9000.0" in page.text

        own = maker.post(f"/console/rules/pending/{change_id}/approve", data={"csrf_token": token})
        assert own.status_code == 403 and "another analyst must approve it" in own.text
        assert pending_ids(api_db)[0][2] == "pending"
        assert rules_on_topic(topic_prefix, rule_id) == []

    with analyst_client(console_url, checker_name) as checker:
        token = page_token(checker, "/console/rules/pending")
        approved = checker.post(
            f"/console/rules/pending/{change_id}/approve", data={"csrf_token": token}
        )
        assert approved.status_code == 303
        assert approved.headers["location"] == f"/console/rules/{rule_id}/versions"
        again = checker.post(
            f"/console/rules/pending/{change_id}/approve", data={"csrf_token": token}
        )
        assert again.status_code == 409
    (published,) = await_rule(topic_prefix, rule_id, 1)
    assert (published.version, published.mode.value, published.author) == (
        1,
        "active",
        f"console:{maker_name}",
    )
    with psycopg.connect(api_db) as conn:
        row = conn.execute(
            "SELECT status, decided_by, published_version FROM rule_changes_pending"
            " WHERE change_id = %s",
            (change_id,),
        ).fetchone()
    assert row == ("approved", checker_name, 1)
    assert actions(api_db, rule_id) == [
        (maker_name, "rule.change_submitted"),
        (checker_name, "rule.change_approved"),
    ]


def test_a_held_mode_change_is_rejected_with_a_note_and_never_published(
    console_url: str, api_db: str, topic_prefix: str, make_user: Callable[[str], str]
) -> None:
    maker_name, checker_name = make_user("analyst"), make_user("analyst")
    with analyst_client(console_url, maker_name) as maker:
        token = page_token(maker, "/console/rules/new")
        maker.post(
            "/console/rules/new",
            data={
                "csrf_token": token,
                "name": "held-velocity",
                "expression": "amount > 1.0",
                "action": "REVIEW",
                "mode": "shadow",
            },  # fmt: skip
        )
    with analyst_client(console_url, checker_name) as checker:
        token = page_token(checker, "/console/rules/pending")
        change_id = max(c for c, _r, s in pending_ids(api_db) if s == "pending")
        checker.post(f"/console/rules/pending/{change_id}/approve", data={"csrf_token": token})
    rule_id = next(r for c, r, _s in pending_ids(api_db) if c == change_id)
    await_rule(topic_prefix, rule_id, 1)
    with analyst_client(console_url, maker_name) as maker:
        token = page_token(maker, f"/console/rules/{rule_id}/versions")
        held = maker.post(
            f"/console/rules/{rule_id}/mode",
            data={"csrf_token": token, "expected_version": "1", "mode": "active"},
        )
        assert held.status_code == 303
    mode_change = pending_ids(api_db, rule_id)[-1]
    assert mode_change[2] == "pending"
    assert [r.mode.value for r in rules_on_topic(topic_prefix, rule_id)] == ["shadow"]
    with analyst_client(console_url, checker_name) as checker:
        token = page_token(checker, "/console/rules/pending")
        no_note = checker.post(
            f"/console/rules/pending/{mode_change[0]}/reject",
            data={"csrf_token": token, "note": "  "},
        )
        assert no_note.status_code == 400
        rejected = checker.post(
            f"/console/rules/pending/{mode_change[0]}/reject",
            data={"csrf_token": token, "note": "hits 40% of traffic in the backtest"},
        )
        assert rejected.status_code == 303
        page = checker.get("/console/rules/pending").text
    assert re.search(r"Rejected by [\w-]+ at .*hits 40% of traffic in the backtest", page)
    assert pending_ids(api_db, rule_id)[-1][2] == "rejected"
    assert [r.mode.value for r in rules_on_topic(topic_prefix, rule_id)] == ["shadow"]
    with psycopg.connect(api_db) as conn:
        versions = conn.execute(
            "SELECT version, mode FROM rule_versions WHERE rule_id = %s", (rule_id,)
        ).fetchall()
    assert versions == [(1, "shadow")]
    assert actions(api_db, rule_id)[-2:] == [
        (maker_name, "rule.change_submitted"),
        (checker_name, "rule.change_rejected"),
    ]


def test_the_database_refuses_an_approval_by_the_maker(api_db: str) -> None:
    with psycopg.connect(api_db) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO rule_changes_pending (rule_id, kind, changes, audit_action, made_by,"
            " status, decided_by, decided_at, published_version) VALUES"
            " (gen_random_uuid(), 'create', '{}', 'rule.created', 'ana', 'approved', 'ana',"
            " now(), 1)"
        )
