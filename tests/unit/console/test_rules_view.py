"""The Rules pages' pure parts: problems at their line and column, hit figures, version
diffs, the mode changes offered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from console.rules_view import (
    HitGroup,
    Problem,
    action_outcome,
    check,
    hit_figures,
    mode_choices,
    newlines,
    unified,
    version_text,
    with_diffs,
)
from reference_store.rules_repo import RuleVersion
from rule_engine import RuleCompileError, compile_rule
from schemas.enums import Outcome, RuleMode


def version(n: int, **changes: Any) -> RuleVersion:
    fields: dict[str, Any] = {
        "rule_id": "r1",
        "version": n,
        "name": "big abroad",
        "description": "",
        "expression": "amount > 5000.0 &&\n  country != home_country",
        "action": "REVIEW",
        "score_delta": None,
        "priority": 0,
        "mode": "shadow",
        "author": "console:ana",
        "created_at": datetime(2026, 12, 6, tzinfo=UTC),
    }
    return RuleVersion(**{**fields, **changes})


def test_a_problem_on_the_second_line_points_at_its_column_with_the_line_and_a_caret() -> None:
    [problem] = check("amount > 5000.0 and\n  country != home_countr", "REVIEW")
    assert (problem.field, problem.line, problem.column) == ("expression", 2, 14)
    assert "did you mean 'home_country'" in problem.message
    assert problem.text == "  country != home_countr"
    # The caret sits under the first character of the unknown name.
    assert problem.text[len(problem.caret_pad) :].startswith("home_countr")


def test_the_problem_is_the_rule_engines_own_error_unchanged() -> None:
    expression = "amount > 1.0 &&\n  (country != "
    with pytest.raises(RuleCompileError) as raised:
        compile_rule(expression)
    [problem] = check(expression, "DECLINE")
    assert (problem.message, problem.line, problem.column) == (
        raised.value.message,
        raised.value.line,
        raised.value.column,
    )


def test_a_valid_rule_has_no_problem_and_a_bad_action_is_its_own() -> None:
    assert check("amount > 5000.0 and country != home_country", "SCORE+0.2") == []
    problems = check("amount > 1.0", "BLOCK")
    assert [(p.field, p.line) for p in problems] == [("action", None)]
    both = check("amount >", "BLOCK")
    assert [p.field for p in both] == ["expression", "action"]


def test_a_problem_without_position_has_no_caret_padding() -> None:
    assert Problem("action", "bad").caret_pad == ""


def test_hit_figures_split_active_and_shadow_and_count_what_shadows_would_change() -> None:
    groups = [
        HitGroup("a", False, "DECLINE", "DECLINE", True, 3),
        HitGroup("a", False, "DECLINE", "DECLINE", False, 4),
        HitGroup("a", False, "DECLINE->REVIEW", "REVIEW", False, 1),
        HitGroup("s", True, "DECLINE", "APPROVE", True, 2),  # would change
        HitGroup("s", True, "DECLINE", "REVIEW", False, 5),  # would change
        HitGroup("s", True, "DECLINE", "DECLINE", False, 7),  # already declined
        HitGroup("s", True, "SCORE+0.2", "APPROVE", False, 9),  # unknown: not counted
    ]
    figures = hit_figures(groups)
    a, s = figures["a"], figures["s"]
    assert (a.last_hour, a.last_day, a.shadow_day) == (3, 8, 0)
    assert (s.last_day, s.shadow_hour, s.shadow_day, s.would_change_day) == (0, 2, 23, 7)


def test_a_hits_action_names_what_it_did() -> None:
    assert action_outcome("DECLINE->REVIEW") is Outcome.REVIEW
    assert action_outcome("APPROVE") is Outcome.APPROVE
    assert action_outcome("SCORE-0.1") is None


def test_the_diff_between_two_versions_marks_the_changed_lines() -> None:
    before = version(1)
    after = version(2, expression="amount > 8000.0 &&\n  country != home_country", mode="active")
    lines = unified(before, after)
    assert [line.text for line in lines[:2]] == ["--- version 1", "+++ version 2"]
    assert {line.text for line in lines if line.kind == "del"} == {
        "-mode: shadow",
        "-amount > 5000.0 &&",
    }
    assert {line.text for line in lines if line.kind == "add"} == {
        "+mode: active",
        "+amount > 8000.0 &&",
    }
    assert any(line.kind == "hunk" and line.text.startswith("@@") for line in lines)
    assert "  country != home_country" in version_text(after)


def test_each_version_gets_the_diff_from_the_one_before_the_first_none() -> None:
    rows = with_diffs([version(3, mode="disabled"), version(2, mode="active"), version(1)])
    assert [r.version.version for r in rows] == [3, 2, 1]
    assert rows[0].diff[0].text == "--- version 2" and rows[1].diff[0].text == "--- version 1"
    assert rows[2].diff == []
    # Only the version number differs, and it is not part of the compared text.
    assert unified(version(1), version(2)) == []


def test_the_modes_offered_are_every_other_one() -> None:
    assert mode_choices("shadow") == [RuleMode.ACTIVE, RuleMode.DISABLED]
    assert mode_choices("disabled") == [RuleMode.ACTIVE, RuleMode.SHADOW]


def test_a_browsers_crlf_line_breaks_are_stored_as_lf() -> None:
    assert newlines("a > 1.0 and\r\n  b\rc") == "a > 1.0 and\n  b\nc"
