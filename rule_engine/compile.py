"""Turning an analyst's expression into a checked CEL program, or an error with its position.

The language is CEL (``common-expression-language``, a Rust core): sandboxed, no I/O, no
loops beyond bounded comprehensions, never ``eval``. On top of CEL's own parser,
``compile_rule`` rejects what the Rust core would only discover on live traffic:

- ``and``/``or``/``not`` are accepted as aliases of ``&&``/``||``/``!`` (a token rewrite,
  see ``_lexer``: never inside a string or a comment);
- names and functions outside the environment (``environment.ENVIRONMENT``), with the
  closest known name as a hint;
- ``lists`` used other than as ``<string field> in lists.<name>`` (see ``ListCheck``);
- type errors and non-boolean results found by two trial runs on typed stand-in values
  (all low, all high); a trial that fails for a value-dependent reason (division by
  zero, a bad ``int()`` conversion) proves nothing and is ignored;
- rules whose evaluation would cost more than a budget (``budget``), and regex patterns
  that are not literal or too costly (``patterns``); ``matches`` calls are rewritten to run
  on a cached RE2 program, so the trial runs, and the agents, run the rewritten program.

Positions: ``RuleCompileError`` carries ``line``/``column`` (from 1) and ``offset``
(from 0), in characters of the expression as written. Parse errors take CEL's own
position; name and list errors the position of the offending token; type errors and
non-boolean results, which CEL reports without a position, point at the start.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import cel

from rule_engine._lexer import (
    AliasError,
    Token,
    is_name,
    rewrite_aliases,
    text_at,
    tokenize,
)
from rule_engine.budget import check_budget
from rule_engine.environment import (
    ENVIRONMENT,
    MACROS,
    STRING_NAMES,
    is_known_function,
    probe_values,
)
from rule_engine.errors import RuleCompileError, offset_of
from rule_engine.patterns import ENGINE_FUNCTIONS, check_patterns, use_cached_match

MAX_EXPRESSION_CHARS: Final = 4000
_CEL_ERROR: Final = re.compile(r"ERROR: <input>:(\d+):(\d+): (?:Syntax error: )?(.*)")
_LIST_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Tokens around `field in lists.name` that keep it one comparison whatever the precedence.
_BEFORE: Final = frozenset({"", "(", "[", "{", ",", "&&", "||", "?", ":"})
_AFTER: Final = frozenset({"", ")", "]", "}", ",", "&&", "||", "?", ":", "==", "!="})
_LISTS_USAGE: Final = (
    "lists can only be used as `<field> in lists.<name>`, for example "
    "`merchant_id in lists.blocked_merchants`; negate it as `!(merchant_id in lists.x)`"
)


class ListCheck(NamedTuple):
    """One ``field in lists.list_name`` of an expression."""

    field: str
    list_name: str


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    """A checked expression: the program and what it reads."""

    expression: str  # as written
    source: str  # as compiled, after the alias rewrite
    program: cel.Program
    names: frozenset[str]  # environment names it reads
    list_checks: frozenset[ListCheck]


def compile_rule(expression: str) -> CompiledRule:
    """Compile and check ``expression``; raises ``RuleCompileError`` with a position."""
    if not expression.strip():
        raise RuleCompileError("the expression is empty", expression=expression)
    if len(expression) > MAX_EXPRESSION_CHARS:
        message = f"the expression is longer than {MAX_EXPRESSION_CHARS} characters"
        raise RuleCompileError(message, expression=expression, offset=MAX_EXPRESSION_CHARS)
    try:
        source = rewrite_aliases(expression)
    except AliasError as exc:
        raise RuleCompileError(str(exc), expression=expression, offset=exc.offset) from None
    program = _parse(source, expression)
    tokens = tokenize(source)
    names = _check_names(program, tokens, expression)
    checks = frozenset(
        _list_check(tokens, index, expression)
        for index, token in enumerate(tokens)
        if token.text == "lists" and is_name(tokens, index)
    )
    check_budget(tokens, expression)
    calls = check_patterns(tokens, expression)
    if calls:
        source = use_cached_match(source, tokens, calls)
        program = _parse(source, expression)
    _trial_runs(program, names, checks, expression)
    return CompiledRule(expression, source, program, names, checks)


def _parse(source: str, expression: str) -> cel.Program:
    try:
        return cel.compile(source)
    except ValueError as exc:
        match = _CEL_ERROR.search(str(exc))
        if match is None:
            raise RuleCompileError(f"cannot parse: {exc}", expression=expression) from None
        offset = offset_of(source, int(match[1]), int(match[2]))
        message = _parse_message(match[3], expression, offset)
        raise RuleCompileError(message, expression=expression, offset=offset) from None


def _parse_message(message: str, expression: str, offset: int) -> str:
    """CEL's parser message in an analyst's words, naming the token as it was written."""
    if "'<EOF>'" in message:
        return "the expression ends too early: an operand or a closing bracket is missing"
    written = next((t.text for t in tokenize(expression) if t.offset == offset), None)
    unexpected = re.match(r"(?:mismatched|extraneous) input '(.*)' expecting", message)
    if unexpected:
        return f"unexpected {written or unexpected[1]!r}"
    unrecognised = re.match(r"token recognition error at: '(.*)'", message)
    if unrecognised:
        return f"unrecognised text {unrecognised[1]!r}"
    return message


def _check_names(program: cel.Program, tokens: Sequence[Token], expression: str) -> frozenset[str]:
    """The environment names read; raises for unknown names and functions."""
    for function in program.functions():
        if not is_known_function(function):
            offset = _offset_of_call(tokens, function)
            raise RuleCompileError(
                f"unknown function {function!r}", expression=expression, offset=offset
            )
    bound = _bound_names(tokens, expression)
    unknown = set(program.variables()) - ENVIRONMENT.keys() - bound
    if unknown:
        offset, name = min((_offset_of_name(tokens, name), name) for name in unknown)
        hint = difflib.get_close_matches(name, ENVIRONMENT.keys(), n=1)
        message = f"unknown name {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
        raise RuleCompileError(message, expression=expression, offset=offset)
    return frozenset(program.variables()) - bound


def _bound_names(tokens: Sequence[Token], expression: str) -> set[str]:
    """Names bound by comprehension macros: ``xs.exists(x, ...)`` binds ``x``."""
    bound = set()
    for index, token in enumerate(tokens):
        name = text_at(tokens, index + 2)
        if not (
            token.text in MACROS
            and text_at(tokens, index - 1) == "."
            and text_at(tokens, index + 1) == "("
            and text_at(tokens, index + 3) == ","
        ):
            continue
        if name in ENVIRONMENT:
            message = (
                f"{name!r} is already a field; give the variable of {token.text}() another name"
            )
            raise RuleCompileError(message, expression=expression, offset=tokens[index + 2].offset)
        bound.add(name)
    return bound


def _offset_of_name(tokens: Sequence[Token], name: str) -> int:
    return next(
        (t.offset for i, t in enumerate(tokens) if t.text == name and is_name(tokens, i)), 0
    )


def _offset_of_call(tokens: Sequence[Token], name: str) -> int:
    calls = (
        t.offset for i, t in enumerate(tokens) if t.text == name and text_at(tokens, i + 1) == "("
    )
    return next(calls, 0)


def _list_check(tokens: Sequence[Token], index: int, expression: str) -> ListCheck:
    """The ``field in lists.name`` around the ``lists`` token at ``index``, or an error."""
    field, name = text_at(tokens, index - 2), text_at(tokens, index + 2)
    if (
        index >= 2
        and text_at(tokens, index - 1) == "in"
        and field in STRING_NAMES
        and is_name(tokens, index - 2)
        and text_at(tokens, index - 3) in _BEFORE
        and text_at(tokens, index + 1) == "."
        and _LIST_NAME.fullmatch(name)
        and text_at(tokens, index + 3) in _AFTER
    ):
        return ListCheck(field, name)
    raise RuleCompileError(_LISTS_USAGE, expression=expression, offset=tokens[index].offset)


def _trial_runs(
    program: cel.Program, names: frozenset[str], checks: frozenset[ListCheck], expression: str
) -> None:
    """Run the program on low and on high stand-in values; reject type errors and non-bools."""
    lists = frozenset(check.list_name for check in checks)
    for high in (False, True):
        result = _trial(program, probe_values(names, lists, high), expression)
        if result is not _INCONCLUSIVE and not isinstance(result, bool):
            message = f"a rule must be true or false, but this gives {_kind(result)}"
            raise RuleCompileError(message, expression=expression)


_INCONCLUSIVE: Final = object()


def _trial(program: cel.Program, values: dict[str, object], expression: str) -> object:
    try:
        return program.execute(cel.Context(values, functions=ENGINE_FUNCTIONS))
    except TypeError as exc:
        message = f"type error: {_first_sentence(str(exc))}; {_NUMBERS_HINT}"
        raise RuleCompileError(message, expression=expression) from None
    except (ArithmeticError, LookupError, RuntimeError, ValueError):
        # Value-dependent (division by zero, int('ZZ'), a bad index): proves nothing.
        return _INCONCLUSIVE


_NUMBERS_HINT: Final = (
    "CEL never mixes int and double in arithmetic (write 2.0, not 2) "
    "and compares strings only with strings"
)


def _first_sentence(message: str) -> str:
    return message.split(". ", 1)[0].rstrip(".")


def _kind(value: object) -> str:
    names = {bool: "a boolean", int: "an int", float: "a double", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")
