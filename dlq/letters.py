"""Dead letters as the dlq commands see them: a stable id, the letter, and filters. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import datetime

from schemas.records import DeadLetter

# Headers a re-drive adds to the record it produces, copied into any letter it causes: the
# letter it was re-driven from, and the first letter of the chain.
HEADER_REDRIVE_OF = "sentinel-redrive-of"
HEADER_REDRIVE_ORIGIN = "sentinel-redrive-origin"

_ID = re.compile(r"(?P<partition>[0-9]+):(?P<offset>[0-9]+)")


class InvalidLetterId(ValueError):
    """A letter id that is not ``partition:offset``."""


@dataclass(frozen=True, slots=True, order=True)
class LetterId:
    """Where a letter sits on its dead-letter topic: stable for as long as it is retained."""

    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> LetterId:
        match = _ID.fullmatch(text.strip())
        if match is None:
            raise InvalidLetterId(f"{text!r} is not a letter id: expected PARTITION:OFFSET")
        return cls(int(match["partition"]), int(match["offset"]))

    def mark_key(self, topic: str) -> str:
        """The key of this letter's re-drive mark: unique across dead-letter topics.

        ``topic`` is the declared (unprefixed) name: the marks topic carries the prefix.
        """
        return f"{topic}/{self}"


@dataclass(frozen=True, slots=True)
class Letter:
    """One dead letter read from a dead-letter topic."""

    id: LetterId
    letter: DeadLetter
    redriven: bool = False


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A record on a dead-letter topic that is not a DeadLetter: shown, never re-driven."""

    id: LetterId
    error: str


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Which letters a command applies to; an empty filter matches every letter."""

    ids: frozenset[LetterId] = frozenset()
    error_codes: frozenset[str] = frozenset()
    # The source topic as written in the letter; the CLI puts both the typed name and the
    # prefixed one in, since users type declared names.
    source_topics: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    not_redriven: bool = False

    @property
    def empty(self) -> bool:
        return self == LetterFilter(not_redriven=self.not_redriven)

    def matches(self, letter: Letter) -> bool:
        dead = letter.letter
        return (
            (not self.ids or letter.id in self.ids)
            and (not self.error_codes or dead.error_code in self.error_codes)
            and (not self.source_topics or dead.source_topic in self.source_topics)
            and (self.since is None or dead.failed_at >= self.since)
            and (self.until is None or dead.failed_at < self.until)
            and not (self.not_redriven and letter.redriven)
        )

    def select(self, letters: Iterable[Letter]) -> list[Letter]:
        return [letter for letter in letters if self.matches(letter)]


def with_marks(letters: Iterable[Letter], marked: Set[str], topic: str) -> list[Letter]:
    """``letters`` with ``redriven`` set from the marks read off the marks topic."""
    return [
        Letter(letter.id, letter.letter, letter.id.mark_key(topic) in marked) for letter in letters
    ]
