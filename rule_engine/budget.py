"""The evaluation-cost budget of a rule, checked when it is compiled.

The CEL core holds the GIL and cannot be interrupted while it runs a program, so a rule
that costs seconds per transaction would stall an agent (and, at validation, the API's
event loop) with nothing able to stop it. The only loops CEL has are the comprehension
macros (``all``, ``exists``, ``exists_one``, ``map``, ``filter``), and the environment
holds no list (``lists`` is only ever projected, see ``lists``), so every iteration runs
over a list or map the analyst wrote. That makes the cost of a rule knowable from its
text, which is what this module bounds:

- a comprehension must run over a literal of constants (``['RU', 'NG'].exists(c, country
  == c)``): never a computed list, whose elements could be lists that a body concatenates
  (measured: a 1,624-character rule of that shape took 779 ms per evaluation);
- comprehensions nest at most ``MAX_COMPREHENSION_DEPTH`` deep;
- the estimated steps stay under ``MAX_EVALUATION_STEPS``: a token outside any
  comprehension is one step, a comprehension costs its range's size times its body's
  steps. Measured on the CEL core: ~0.4 µs per iteration of a small body, so the budget
  keeps the worst rule near a millisecond, against hours for a 4-deep nesting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rule_engine._lexer import Token, text_at
from rule_engine.environment import MACROS
from rule_engine.errors import RuleCompileError

MAX_COMPREHENSION_DEPTH: Final = 2
MAX_EVALUATION_STEPS: Final = 5_000
_OPENERS: Final = {"(": ")", "[": "]", "{": "}"}
_CONSTANT_WORDS: Final = frozenset({"true", "false", "null"})
_LITERAL_PUNCTUATION: Final = frozenset({",", ":", "-"})


def check_budget(tokens: Sequence[Token], expression: str) -> int:
    """The estimated steps of one evaluation; raises ``RuleCompileError`` over budget."""
    pairs = _pairs(tokens)
    macros = [i for i in range(len(tokens)) if _is_macro(tokens, i)]
    bodies = {i: (i + 1, pairs.get(i + 1, len(tokens))) for i in macros}
    sizes = {i: _range_size(tokens, pairs, i, expression) for i in macros}
    parent = {i: _innermost(i, bodies, macros) for i in macros}
    for i in macros:
        if _depth(i, parent) > MAX_COMPREHENSION_DEPTH:
            message = f"comprehensions nest at most {MAX_COMPREHENSION_DEPTH} deep"
            raise RuleCompileError(message, expression=expression, offset=tokens[i].offset)

    def steps(start: int, end: int, owner: int | None) -> int:
        inner = [i for i in macros if parent[i] == owner and start <= i < end]
        nested = sum(bodies[i][1] - bodies[i][0] + 1 for i in inner)
        own = end - start - nested
        return own + sum(sizes[i] * max(1, steps(*bodies[i], i)) for i in inner)

    total = steps(0, len(tokens), None)
    if total > MAX_EVALUATION_STEPS:
        message = (
            f"the rule is too costly to evaluate: about {total:,} steps per transaction, "
            f"over the budget of {MAX_EVALUATION_STEPS:,} (shorten the lists its "
            "comprehensions run over, or nest them less)"
        )
        raise RuleCompileError(message, expression=expression)
    return total


def _is_macro(tokens: Sequence[Token], index: int) -> bool:
    return (
        tokens[index].kind == "ident"
        and tokens[index].text in MACROS
        and text_at(tokens, index - 1) == "."
        and text_at(tokens, index + 1) == "("
    )


def _pairs(tokens: Sequence[Token]) -> dict[int, int]:
    """Matching brackets, both ways (opener -> closer and closer -> opener)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.text in _OPENERS:
            stack.append(index)
        elif stack and token.text == _OPENERS[tokens[stack[-1]].text]:
            opener = stack.pop()
            pairs[opener], pairs[index] = index, opener
    return pairs


def _range_size(tokens: Sequence[Token], pairs: dict[int, int], macro: int, expression: str) -> int:
    """Elements of the literal a comprehension runs over; raises for anything else."""
    closer = macro - 2
    opener = pairs.get(closer, -1)
    if (
        text_at(tokens, closer) not in ("]", "}")
        or opener < 0
        or _ends_operand(tokens, opener - 1)
        or not all(_is_constant(tokens[i]) for i in range(opener + 1, closer))
    ):
        message = (
            f"{tokens[macro].text}() runs only over a list or map of constants written in "
            f"the rule, for example ['RU', 'NG'].{tokens[macro].text}(c, country == c)"
        )
        raise RuleCompileError(message, expression=expression, offset=tokens[macro].offset)
    inside = tokens[opener + 1 : closer]
    commas = sum(1 for token in inside if token.text == ",")
    return 0 if not inside else commas + (inside[-1].text != ",")


def _ends_operand(tokens: Sequence[Token], index: int) -> bool:
    """Whether a ``[`` after this token is an index (``x[0]``) rather than a list."""
    token = tokens[index] if index >= 0 else None
    return token is not None and (
        token.kind in ("ident", "number", "string") or token.text in (")", "]", "}")
    )


def _is_constant(token: Token) -> bool:
    return (
        token.kind in ("string", "number")
        or token.text in _CONSTANT_WORDS
        or token.text in _LITERAL_PUNCTUATION
    )


def _innermost(index: int, bodies: dict[int, tuple[int, int]], macros: list[int]) -> int | None:
    """The macro whose body most closely encloses token ``index``, if any."""
    enclosing = [m for m in macros if bodies[m][0] < index < bodies[m][1]]
    return max(enclosing, default=None)


def _depth(index: int, parent: dict[int, int | None]) -> int:
    depth, owner = 1, parent[index]
    while owner is not None:
        depth, owner = depth + 1, parent[owner]
    return depth
