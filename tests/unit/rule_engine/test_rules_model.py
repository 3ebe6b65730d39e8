"""Rule specs, actions and named lists: parsing, validation, conversions."""

from datetime import UTC, datetime

import pytest

from rule_engine import InvalidRuleSpec, ListKind, ListSet, NamedList, RuleAction, RuleSpec
from schemas.enums import Outcome, RuleMode
from schemas.records import Rule


@pytest.mark.parametrize(
    ("text", "outcome", "delta", "canonical"),
    [
        ("DECLINE", Outcome.DECLINE, 0.0, "DECLINE"),
        (" review ", Outcome.REVIEW, 0.0, "REVIEW"),
        ("APPROVE", Outcome.APPROVE, 0.0, "APPROVE"),
        ("SCORE+0.2", None, 0.2, "SCORE+0.2"),
        ("score - .05", None, -0.05, "SCORE-0.05"),
        ("SCORE+1", None, 1.0, "SCORE+1"),
    ],
)
def test_actions_parse_to_an_outcome_or_a_delta(
    text: str, outcome: Outcome | None, delta: float, canonical: str
) -> None:
    action = RuleAction.parse(text)
    assert (action.outcome, action.score_delta) == (outcome, delta)
    assert str(action) == canonical
    assert RuleAction.parse(str(action)) == action


@pytest.mark.parametrize("text", ["BLOCK", "SCORE", "SCORE+0", "SCORE+1.5", "SCORE*2", ""])
def test_bad_actions_are_refused(text: str) -> None:
    with pytest.raises(InvalidRuleSpec):
        RuleAction.parse(text)


def record(action: str, score_delta: float | None = None) -> Rule:
    return Rule(
        rule_id="r1",
        version=3,
        name="n",
        description="d",
        expression="amount > 1.0",
        action=action,
        score_delta=score_delta,
        priority=7,
        mode=RuleMode.SHADOW,
        author="ana",
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_specs_come_from_topic_records() -> None:
    spec = RuleSpec.from_record(record("REVIEW"))
    assert (spec.rule_id, spec.version, spec.priority, spec.mode) == ("r1", 3, 7, RuleMode.SHADOW)
    assert spec.action == RuleAction(Outcome.REVIEW)
    assert RuleSpec.from_record(record("SCORE", 0.3)).action == RuleAction(score_delta=0.3)
    assert RuleSpec.from_record(record("SCORE-0.1")).action == RuleAction(score_delta=-0.1)


def test_specs_from_dicts_validate() -> None:
    spec = RuleSpec.from_dict({"rule_id": "x", "name": "x", "expression": "e", "action": "DECLINE"})
    assert (spec.version, spec.priority, spec.mode) == (1, 0, RuleMode.ACTIVE)
    with pytest.raises(InvalidRuleSpec):
        RuleSpec.from_dict({"rule_id": "x", "name": "x", "expression": "e"})
    with pytest.raises(InvalidRuleSpec):
        RuleSpec.from_dict({"rule_id": "x", "name": "x", "expression": "e", "action": "DECLINE",
                            "mode": "sometimes"})  # fmt: skip
    with pytest.raises(InvalidRuleSpec):
        RuleSpec.from_dict({"rule_id": "", "name": "x", "expression": "e", "action": "REVIEW"})


def test_list_sets_are_immutable_and_project_only_members() -> None:
    lists = ListSet([NamedList.of("blocked", "merchants", ["m1", "m2"])])
    grown = lists.with_list(NamedList.of("risky", ListKind.COUNTRIES, ["KP"]))
    assert set(lists) == {"blocked"} and set(grown) == {"blocked", "risky"}
    assert set(grown.without("blocked")) == {"risky"}
    assert ListKind.MERCHANTS.field == "merchant_id"
    values = {"merchant_id": "m2", "country": "FR"}
    checks = [("merchant_id", "blocked"), ("country", "risky"), ("merchant_id", "absent")]
    assert grown.project(checks, values) == {"blocked": {"m2": True}, "risky": {}}


def test_list_names_must_be_identifiers() -> None:
    with pytest.raises(InvalidRuleSpec):
        NamedList.of("blocked-merchants", "merchants", [])
    with pytest.raises(ValueError, match="not a valid ListKind"):
        NamedList.of("ok", "planets", [])
