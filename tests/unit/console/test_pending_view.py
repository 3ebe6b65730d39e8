"""Maker-checker's state rules: who may approve or reject a held rule change, and its diff."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from console.pending_view import (
    PendingChange,
    approval_refused,
    change_diff,
    is_stale,
    proposed,
    rejection_refused,
)
from reference_store.rules_repo import RuleVersion

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MODE = PendingChange(
    change_id=1, rule_id="r-1", kind="mode", base_version=3, changes={"mode": "active"},
    audit_action="rule.activated", made_by="ana", made_at=AT, status="pending",
    decided_by=None, decided_at=None, note="", published_version=None,
)  # fmt: skip
CURRENT = RuleVersion("r-1", 3, "big", "", "amount > 5.0", "REVIEW", None, 0, "shadow",
                      "console:bo", AT)  # fmt: skip


def test_the_maker_may_not_approve_their_own_change_another_analyst_may() -> None:
    refused = approval_refused(MODE, "ana", 3)
    assert refused is not None and refused.self_approval
    assert approval_refused(MODE, "bo", 3) is None


def test_a_decided_or_stale_change_is_refused_but_not_as_self_approval() -> None:
    decided = replace(MODE, status="approved", decided_by="bo")
    refused = approval_refused(decided, "cy", 3)
    assert refused is not None and not refused.self_approval
    assert "approved by bo" in str(refused)
    stale = approval_refused(MODE, "bo", 4)
    assert stale is not None and "v3, now v4" in str(stale)
    assert is_stale(MODE, 4) and not is_stale(MODE, 3)
    gone = approval_refused(MODE, "bo", None)
    assert gone is not None and "no longer exists" in str(gone)


def test_a_new_rule_is_approved_only_while_its_id_is_free() -> None:
    create = replace(MODE, kind="create", base_version=None)
    assert approval_refused(create, "bo", None) is None
    assert approval_refused(create, "bo", 1) is not None
    assert not is_stale(create, None)


def test_a_rejection_needs_a_note_and_the_maker_may_withdraw() -> None:
    assert rejection_refused(MODE, "  ") is not None
    assert rejection_refused(MODE, "too broad") is None  # whoever rejects, maker included
    assert rejection_refused(replace(MODE, status="rejected", decided_by="bo"), "x") is not None


def test_the_diff_shows_what_approval_publishes() -> None:
    after = proposed(MODE, CURRENT, "console:ana")
    assert (after.version, after.mode, after.author) == (4, "active", "console:ana")
    lines = [line.text for line in change_diff(MODE, CURRENT)]
    assert "-mode: shadow" in lines and "+mode: active" in lines
    create = replace(
        MODE,
        kind="create",
        base_version=None,
        changes={
            "name": "new",
            "expression": "amount > 1.0",
            "action": "DECLINE",
            "mode": "shadow",
        },
    )
    added = change_diff(create, None)
    assert all(line.kind == "add" for line in added)
    assert "+expression:" in [line.text for line in added]
