"""The rule engine's exceptions: one root, and a compile error that knows where it is."""

from __future__ import annotations

from typing import Any


class RuleEngineError(Exception):
    """Root of every error the rule engine raises on purpose."""


class InvalidRuleSpec(RuleEngineError, ValueError):
    """A rule or list definition that is malformed apart from its expression."""


class RuleCompileError(RuleEngineError):
    """An expression that cannot become a rule, with the position of the problem.

    ``offset`` counts characters (code points) from 0 into the expression as written;
    ``line`` and ``column`` count from 1, columns in characters, as the CEL parser does.
    """

    def __init__(self, message: str, *, expression: str, offset: int = 0) -> None:
        self.message = message
        self.expression = expression
        self.offset = max(0, min(offset, len(expression)))
        self.line, self.column = line_column(expression, self.offset)
        super().__init__(f"{message} (line {self.line}, column {self.column})")

    def to_dict(self) -> dict[str, Any]:
        """The stable error body for an API answer (422)."""
        return {
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "offset": self.offset,
        }

    def snippet(self) -> str:
        """The offending line with a caret under the position, for a log or a terminal."""
        text = self.expression.split("\n")[self.line - 1]
        return f"{text}\n{' ' * (self.column - 1)}^"


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def offset_of(text: str, line: int, column: int) -> int:
    """0-based character offset of a 1-based line and column, clamped into the text."""
    start = 0
    for _ in range(line - 1):
        newline = text.find("\n", start)
        if newline < 0:
            return len(text)
        start = newline + 1
    return min(start + max(column, 1) - 1, len(text))
