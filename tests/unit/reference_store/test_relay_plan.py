"""The relay's plan: each rule's newest pending version, the rest superseded, never an
older version after a newer one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reference_store.relay.plan import lag_seconds, plan, republish
from reference_store.rules_repo import RuleVersion

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def version(rule_id: str, n: int, at_s: float = 0.0) -> RuleVersion:
    return RuleVersion(
        rule_id=rule_id,
        version=n,
        name=f"rule {rule_id}",
        description="",
        expression="amount > 5000",
        action="REVIEW",
        score_delta=None,
        priority=0,
        mode="active",
        author="test",
        created_at=T0 + timedelta(seconds=at_s),
    )


def test_nothing_pending_publishes_nothing_and_has_no_lag() -> None:
    found = plan([])
    assert (found.publish, found.superseded, found.pending) == ((), (), 0)
    assert lag_seconds(found, T0) == 0.0


def test_only_each_rules_newest_version_is_published_in_any_input_order() -> None:
    pending = [version("a", 3, 3), version("a", 1, 1), version("b", 1, 2), version("a", 2, 2)]
    for order in (pending, list(reversed(pending))):
        found = plan(order)
        assert [(v.rule_id, v.version) for v in found.publish] == [("b", 1), ("a", 3)]
        assert sorted((v.rule_id, v.version) for v in found.superseded) == [("a", 1), ("a", 2)]
        assert found.pending == 4


def test_published_in_the_order_they_were_saved() -> None:
    found = plan([version("late", 1, 9), version("early", 2, 1), version("mid", 5, 4)])
    assert [v.rule_id for v in found.publish] == ["early", "mid", "late"]


def test_the_lag_is_the_oldest_pending_versions_wait_superseded_ones_included() -> None:
    found = plan([version("a", 1, 0), version("a", 2, 30)])
    assert lag_seconds(found, T0 + timedelta(seconds=45)) == 45.0
    assert lag_seconds(found, T0 - timedelta(seconds=1)) == 0.0  # a clock behind: never < 0


def test_a_repair_republishes_every_current_version_and_supersedes_nothing() -> None:
    found = republish([version("b", 2, 5), version("a", 7, 1)])
    assert [(v.rule_id, v.version) for v in found.publish] == [("a", 7), ("b", 2)]
    assert found.superseded == ()
