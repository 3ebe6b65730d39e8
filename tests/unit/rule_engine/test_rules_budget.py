"""The cost budget of a rule and its regexes: refused at compile time, cached at run time."""

import logging

import pytest

from rule_engine import (
    Binder,
    FailureKind,
    RuleAction,
    RuleCompileError,
    RuleContext,
    RuleSet,
    RuleSpec,
    compile_rule,
)
from rule_engine._lexer import tokenize
from rule_engine.budget import MAX_COMPREHENSION_DEPTH, MAX_EVALUATION_STEPS, check_budget
from rule_engine.compile import MAX_EXPRESSION_CHARS
from rule_engine.patterns import MAX_PATTERN_CHARS, compiled_pattern


def error_of(expression: str) -> RuleCompileError:
    with pytest.raises(RuleCompileError) as caught:
        compile_rule(expression)
    return caught.value


def literal(n: int) -> str:
    return "[" + ",".join(str(i) for i in range(n)) + "]"


def nested(depth: int, size: int) -> str:
    """``depth`` comprehensions each over ``size`` ints, innermost comparing with amount."""
    expression = "amount > 0.0"
    for level in reversed(range(depth)):
        expression = f"{literal(size)}.exists(v{level}, {expression})"
    return expression


def test_the_issues_four_deep_nesting_under_the_length_cap_is_refused() -> None:
    expression = nested(4, 150)  # ~4·10^8 iterations per evaluation as written
    assert len(expression) <= MAX_EXPRESSION_CHARS
    error = error_of(expression)
    assert f"nest at most {MAX_COMPREHENSION_DEPTH} deep" in error.message
    assert error.offset == expression.index("exists", expression.index("exists(v1") + 1)


def test_a_costly_two_deep_nesting_is_refused_with_its_estimate() -> None:
    error = error_of(nested(2, 100))  # 10,000 iterations of the inner body
    assert "too costly to evaluate" in error.message
    assert f"{MAX_EVALUATION_STEPS:,}" in error.message


@pytest.mark.parametrize(
    "expression",
    [
        "['RU', 'NG', 'KP'].exists(c, country == c)",
        "[1.0, -2.5].all(x, amount > x) && [9.0].exists_one(y, y > amount)",
        "size(['a', 'b'].filter(p, merchant_id.startsWith(p))) > 0",
        "{'FR': 1, 'DE': 2}.exists(k, k == country)",
        "['a','b'].exists(p, ['x','y'].exists(q, merchant_id == p + q))",
        nested(1, 500),
    ],
)
def test_realistic_comprehensions_stay_within_budget(expression: str) -> None:
    compile_rule(expression)
    assert check_budget(tokenize(expression), expression) <= MAX_EVALUATION_STEPS


@pytest.mark.parametrize(
    "expression",
    [
        # A computed range: lists of lists that a body concatenates (measured 779 ms).
        f"[{literal(500)}].exists(a, size(a + a + a) > 0)",
        "[1, 2].map(x, x * 2).exists(y, y > 3)",
        "([1] + [2]).exists(y, y > 3)",
        "[[1, 2]][0].exists(y, y > 3)",
        "[amount].exists(y, y > 3.0)",
    ],
)
def test_a_comprehension_runs_only_over_written_constants(expression: str) -> None:
    error = error_of(expression)
    assert "runs only over a list or map of constants" in error.message


def test_steps_count_a_range_times_its_body() -> None:
    expression = "[1, 2, 3].exists(v, v > 2) && amount > 1.0"
    # outside: 7 range tokens + `. exists && amount > 1.0` = 13; the body `(v, v > 2`
    # (its 6 tokens to the closing bracket) once per element
    assert check_budget(tokenize(expression), expression) == 13 + 3 * 6


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("[a-z]{1,200}{1,200}", "invalid pattern: bad repetition operator"),
        ("[a-z]{1,1000}", "too costly to match"),
        ("(unclosed", "invalid pattern: missing )"),
        ("a" * (MAX_PATTERN_CHARS + 1), f"longer than {MAX_PATTERN_CHARS}"),
    ],
)
def test_costly_or_bad_patterns_are_refused_at_their_position(pattern: str, words: str) -> None:
    expression = f"amount > 1.0 && merchant_id.matches('{pattern}')"
    error = error_of(expression)
    assert words in error.message
    assert error.offset == expression.index("'")


@pytest.mark.parametrize(
    "expression",
    ["merchant_id.matches(city)", "merchant_id.matches('a' + 'b')", "matches(city, 'x')"],
)
def test_a_pattern_must_be_one_literal(expression: str) -> None:
    assert "one pattern written as a string" in error_of(expression).message


def spec(expression: str) -> RuleSpec:
    return RuleSpec(
        rule_id="r1", version=1, name="r", expression=expression, action=RuleAction.parse("REVIEW")
    )


@pytest.mark.parametrize(
    ("pattern", "merchant", "fires"),
    [
        (r"^(shop|store)_[0-9]{3,8}-[a-z]+$", "store_12345-abc", True),
        (r"^(shop|store)_[0-9]{3,8}-[a-z]+$", "store_12-abc", False),
        (r"\d{4}", "m-2024-x", True),  # a match anywhere, as CEL's matches
        ("^casino", "a casino", False),
    ],
)
def test_matches_is_evaluated_as_cel_does(pattern: str, merchant: str, fires: bool) -> None:
    rules = RuleSet.build([spec(f"merchant_id.matches(r'{pattern}')")])
    context = RuleContext.build({"merchant_id": merchant}, {})
    verdict = rules.evaluate(context, Binder())
    assert bool(verdict.fired) is fires and not verdict.failures
    assert bool(rules.evaluate(context).fired) is fires


def test_each_pattern_is_compiled_once_not_per_evaluation() -> None:
    pattern = r"^cached_[0-9]+_once$"
    rules = RuleSet.build([spec(f"merchant_id.matches('{pattern}')")])
    before = compiled_pattern.cache_info()
    binder = Binder()
    for n in range(200):
        context = RuleContext.build({"merchant_id": f"cached_{n}_once"}, {})
        assert rules.evaluate(context, binder).fired
    after = compiled_pattern.cache_info()
    assert after.misses == before.misses  # compiled at compile time, never again
    assert after.hits - before.hits == 200


def test_a_null_operand_is_a_counted_null_failure_not_a_log_flood(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = RuleSet.build([spec("device_id.matches('^emu')")])
    with caplog.at_level(logging.WARNING):
        verdict = rules.evaluate(RuleContext.build({"device_id": None}, {}), Binder())
    assert not verdict.fired
    assert [f.kind for f in verdict.failures] == [FailureKind.NULL]
    assert not [r for r in caplog.records if r.name == "cel"]
