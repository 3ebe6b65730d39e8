"""The dead letters page's reads and re-drive, through the dlq package's own library.

Kafka is read with confluent-kafka's blocking client, so every call runs in a worker thread
(``asyncio.to_thread``), at most ``MAX_KAFKA_CALLS`` at once: the event loop keeps serving
pages while a read waits on the broker. The dlq reader is assigned, never subscribed, under
a throwaway group id, and commits nothing: no pipeline group's offsets move. Lists read the
newest ``last`` records of each partition only. A re-drive is ``dlq.redrive.redrive`` itself
(fenced, the re-produced record and its mark in one Kafka transaction, at most once), with
the console user named in the mark.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from dlq import render
from dlq.letters import Letter, LetterFilter, LetterId, Unreadable
from dlq.redrive import RedriveReport, redrive
from dlq.source import DlqTopics, Loaded, load_letter, load_letters
from schemas.connections import KafkaConnection
from schemas.pan import mask_pans
from schemas.topics import DEAD_LETTER, WEBHOOKS_DEAD_LETTER

# The dead-letter topics as declared (the connection's prefix is added), first the default.
TOPICS = (DEAD_LETTER.name, WEBHOOKS_DEAD_LETTER.name)
MAX_KAFKA_CALLS = 2
_calls: asyncio.Semaphore | None = None


class UnknownTopic(ValueError):
    """A topic that is not one of the dead-letter topics."""


def topics_of(declared: str, conn: KafkaConnection) -> DlqTopics:
    """The dlq topics of ``declared``, refusing any name that is not a dead-letter topic."""
    if declared not in TOPICS:
        raise UnknownTopic(f"{declared!r} is not a dead-letter topic")
    return DlqTopics.of(declared, conn.topic_prefix)


async def _in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    global _calls  # created on first use, inside the running loop
    if _calls is None:
        _calls = asyncio.Semaphore(MAX_KAFKA_CALLS)
    async with _calls:
        return await asyncio.to_thread(function, *args, **kwargs)


async def recent(conn: KafkaConnection, topics: DlqTopics, last: int) -> Loaded:
    """The newest ``last`` records of each partition, as letters (marked if re-driven)."""
    loaded: Loaded = await _in_thread(load_letters, conn, topics, last=last)
    return loaded


async def one(
    conn: KafkaConnection, topics: DlqTopics, letter_id: LetterId
) -> Letter | Unreadable | None:
    found: Letter | Unreadable | None = await _in_thread(load_letter, conn, topics, letter_id)
    return found


async def redrive_one(
    conn: KafkaConnection, topics: DlqTopics, letter_id: LetterId, by: str
) -> RedriveReport:
    chosen = LetterFilter(ids=frozenset({letter_id}))
    report: RedriveReport = await _in_thread(redrive, conn, topics, chosen, by=by)
    return report


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the list, PAN-masked."""

    id: str
    failed_at: str
    source: str
    error_code: str
    message: str
    redriven: bool
    readable: bool = True


def rows(loaded: Loaded) -> list[Row]:
    """Newest first (by failure time), then the records that are not dead letters."""
    letters = sorted(loaded.letters, key=lambda letter: letter.letter.failed_at, reverse=True)
    found = [_row(letter) for letter in letters]
    return found + [
        Row(str(bad.id), "", "", "not a dead letter", mask_pans(bad.error), False, False)
        for bad in sorted(loaded.unreadable, key=lambda bad: bad.id)
    ]


def _row(letter: Letter) -> Row:
    summary = render.summary(letter)
    dead = letter.letter
    return Row(
        id=summary["id"],
        failed_at=dead.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
        source=f"{dead.source_topic} {dead.partition}:{dead.offset}",
        error_code=summary["error_code"],
        message=summary["error_message"],
        redriven=letter.redriven,
    )


def detail(letter: Letter) -> dict[str, Any]:
    """One letter for the page: dlq's own detail, headers masked, the record as JSON text."""
    shown = render.detail(letter)
    shown["headers"] = {name: mask_pans(value) for name, value in shown["headers"].items()}
    shown["original_json"] = render.to_json(shown["original"])
    return shown


def outcome(report: RedriveReport, letter_id: LetterId) -> tuple[str, str]:
    """(result, what to tell the user) of re-driving one letter."""
    if report.redriven:
        letter = report.redriven[0].letter
        return "redriven", (f"re-driven to {letter.source_topic} partition {letter.partition}")
    if report.already:
        return "already", "it was re-driven before; nothing was produced"
    if report.skipped:
        return "skipped", f"not re-driven: {report.skipped[0][1]}"
    return "missing", f"there is no dead letter at {letter_id} (any more)"
