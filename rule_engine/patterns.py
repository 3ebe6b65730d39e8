"""Regular expressions in rules: checked once at compile time, compiled once, run by RE2.

The CEL core compiles the pattern of ``x.matches('...')`` again on every evaluation
(measured: ~23 µs for a realistic pattern, a tenth of a whole decision, and 12 ms for
``'[a-z]{1,200}{1,200}'``). So ``compile_rule`` requires a literal pattern, checks it here
with RE2 (linear-time matching, no backtracking; CEL's own regex dialect is RE2's) within
a length and program-size budget, and rewrites the call to ``rxmatch``, a function of the
engine that looks the compiled pattern up in a cache (measured: ~5 µs a call, the
Python call included). ``rxmatch`` has the same length as ``matches``, so error positions
are unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final

import cel
import re2  # type: ignore[import-untyped]

from rule_engine._lexer import Token, text_at
from rule_engine.errors import RuleCompileError

MAX_PATTERN_CHARS: Final = 256
# RE2's compiled program size (instructions); realistic patterns measure 20-60, while a
# counted repetition such as [a-z]{1,1000} measures ~2,000.
MAX_PATTERN_PROGRAM: Final = 500
CACHED_MATCH: Final = "rxmatch"
_OPTIONS: Final = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr


@lru_cache(maxsize=4096)
def compiled_pattern(pattern: str) -> Any:
    """The RE2 program of ``pattern``, compiled once per process (``re2.error`` if bad)."""
    return re2.compile(pattern, _OPTIONS)


def rxmatch(text: object, pattern: object) -> bool:
    """CEL's ``matches`` (a match anywhere in ``text``) on a cached RE2 program."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise TypeError(f"no such overload: {CACHED_MATCH}({_cel_type(text)}, string)")
    return compiled_pattern(pattern).search(text) is not None


ENGINE_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {CACHED_MATCH: rxmatch}


def check_patterns(tokens: Sequence[Token], expression: str) -> list[int]:
    """The indexes of the ``matches`` calls; raises for a pattern out of budget."""
    calls = []
    for index, token in enumerate(tokens):
        if token.kind != "ident" or token.text != "matches" or text_at(tokens, index + 1) != "(":
            continue
        literal = tokens[index + 2] if index + 2 < len(tokens) else None
        if (
            text_at(tokens, index - 1) != "."
            or literal is None
            or literal.kind != "string"
            or text_at(tokens, index + 3) != ")"
        ):
            message = "matches() takes one pattern written as a string: x.matches('^[0-9]+$')"
            raise RuleCompileError(message, expression=expression, offset=token.offset)
        _check_pattern(literal, expression)
        calls.append(index)
    return calls


def use_cached_match(source: str, tokens: Sequence[Token], calls: Sequence[int]) -> str:
    """``source`` with each ``matches`` call at ``calls`` renamed ``rxmatch`` (same length)."""
    for index in calls:
        offset = tokens[index].offset
        source = source[:offset] + CACHED_MATCH + source[offset + len(CACHED_MATCH) :]
    return source


def _check_pattern(literal: Token, expression: str) -> None:
    pattern = cel.evaluate(literal.text)  # the string as CEL reads it (escapes, raw strings)
    if not isinstance(pattern, str):
        message = "matches() takes a string pattern, not bytes"
        raise RuleCompileError(message, expression=expression, offset=literal.offset)
    if len(pattern) > MAX_PATTERN_CHARS:
        message = f"the pattern is longer than {MAX_PATTERN_CHARS} characters"
        raise RuleCompileError(message, expression=expression, offset=literal.offset)
    try:
        size = compiled_pattern(pattern).programsize
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        message = f"invalid pattern: {detail}"
        raise RuleCompileError(message, expression=expression, offset=literal.offset) from None
    if size > MAX_PATTERN_PROGRAM:
        message = (
            f"the pattern is too costly to match (RE2 program of {size} instructions, over "
            f"{MAX_PATTERN_PROGRAM}): use smaller repetition counts"
        )
        raise RuleCompileError(message, expression=expression, offset=literal.offset)


def _cel_type(value: object) -> str:
    return "null" if value is None else type(value).__name__


class _NullOperandNoise(logging.Filter):
    """The CEL core logs every failed Python function call on the ``cel`` logger; a null
    operand of ``rxmatch`` (an absent ``device_id``...) is an ordinary, counted rule
    failure (``FailureKind.NULL``), and logging it per transaction would flood the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"'{CACHED_MATCH}' failed: TypeError: no such overload" not in record.getMessage()


logging.getLogger("cel").addFilter(_NullOperandNoise())
