"""A CEL tokenizer for the checks the CEL library does not make, and the and/or/not aliases.

The Rust CEL parser exposes no syntax tree, only the names an expression references. The
few static checks that need positions (unknown names, how ``lists`` is used) and the
friendly aliases therefore read tokens: string literals, raw strings, triple-quoted
strings and ``//`` comments are single tokens, so nothing inside them is ever rewritten or
mistaken for a name. The tokenizer is tolerant: text it cannot lex becomes an ``error``
token and is left for the CEL parser to report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

# Length-preserving on purpose: every offset the CEL parser reports in the rewritten text is
# the same offset in the text the analyst wrote, so no position map is needed.
ALIASES: Final[dict[str, str]] = {"and": "&& ", "or": "||", "not": "!  "}

_RAW = r"""(?:[rR][bB]?|[bB][rR])(?:'''[\s\S]*?'''|\"\"\"[\s\S]*?\"\"\"|'[^'\n]*'|"[^"\n]*")"""
_COOKED = (
    r"""[bB]?(?:'''(?:[^\\]|\\[\s\S])*?'''|\"\"\"(?:[^\\]|\\[\s\S])*?\"\"\""""
    r"""|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
)
_UNTERMINATED = r"""[rRbB]{0,2}(?:'''|\"\"\")[\s\S]*|[rRbB]{0,2}['"][^\n]*"""
_TOKEN = re.compile(
    rf"""(?P<skip>\s+|//[^\n]*)
    |(?P<string>{_RAW}|{_COOKED})
    |(?P<error>{_UNTERMINATED})
    |(?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?[uU]?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`\n]*`)
    |(?P<op>==|!=|<=|>=|&&|\|\||\.\?|[-+*/%!<>?:.,()\[\]{{}}])
    |(?P<other>[\s\S])""",
    re.VERBOSE,
)


class Token(NamedTuple):
    """One significant token: its kind, its text and its character offset."""

    kind: str  # string, error, number, ident, op, other
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    """The significant tokens of ``text`` (whitespace and comments dropped)."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is not None and kind != "skip":
            tokens.append(Token(kind, match.group(), match.start()))
    return tokens


def is_name(tokens: Sequence[Token], index: int) -> bool:
    """Whether the identifier at ``index`` is a top-level name, not a field after a dot."""
    token = tokens[index]
    if token.kind != "ident":
        return False
    return index == 0 or tokens[index - 1].text not in (".", ".?")


def text_at(tokens: Sequence[Token], index: int) -> str:
    """The text of the token at ``index``, or '' past either end."""
    return tokens[index].text if 0 <= index < len(tokens) else ""


def rewrite_aliases(text: str) -> str:
    """``text`` with the names and/or/not replaced by &&/||/! (each padded to its length).

    Only identifier tokens are replaced, never text in a string or a comment, and never a
    field selection (``x.and``). Raises ``ValueError`` with the offset for ``x not in y``,
    which would otherwise read as ``x ! in y``: CEL spells it ``!(x in y)``.
    """
    tokens = tokenize(text)
    parts: list[str] = []
    last = 0
    for index, token in enumerate(tokens):
        if token.text not in ALIASES or not is_name(tokens, index):
            continue
        if token.text == "not" and text_at(tokens, index + 1) == "in":
            raise AliasError("write !(x in y) rather than x not in y", token.offset)
        parts += (text[last : token.offset], ALIASES[token.text])
        last = token.offset + len(token.text)
    parts.append(text[last:])
    return "".join(parts)


class AliasError(ValueError):
    """A misuse of the aliases, at a character offset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset
