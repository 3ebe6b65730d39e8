"""Re-driving dead letters: what is produced for each, and the run that produces it.

Guarantee: a letter is re-driven at most once, even when ``redrive`` runs twice, or twice
at the same time. The run first fences every other re-drive of the same dead-letter topic
(one ``transactional.id`` per topic), then reads the marks, then commits each re-produced
record in the same Kafka transaction as its mark. There is no window between "claimed"
and "produced": a crash before the commit aborts both (the letter stays un-driven and a
later run re-drives it); after the commit both are there and no later run touches it.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from dlq import kafka
from dlq.kafka import RedriveProducer
from dlq.letters import (
    HEADER_REDRIVE_OF,
    HEADER_REDRIVE_ORIGIN,
    Letter,
    LetterFilter,
    LetterId,
)
from dlq.source import DlqTopics, load_letters, read_marks
from schemas.connections import KafkaConnection
from schemas.kafka_edge import Outbound
from schemas.records import HEADER_PAN_MASKED

MASKED = (
    "it held a card number, masked when it was dead-lettered: it is no longer the original "
    "record; have the producer send it again without the card number"
)

# Re-drives committed per Kafka transaction: a crash loses at most this many to a rerun.
CHUNK = 100
MARK_VERSION = 1


def operator() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return f"unknown@{socket.gethostname()}"


def redrive_headers(letter: Letter, topics: DlqTopics) -> tuple[tuple[str, bytes], ...]:
    """The original headers, plus the link to this letter (and to the chain's first one).

    A re-driven record that fails again is dead-lettered with these headers copied, so the
    new letter names the one it came from.
    """
    this = f"{topics.declared}/{letter.id}"
    headers = dict(letter.letter.headers)
    headers[HEADER_REDRIVE_ORIGIN] = headers.get(HEADER_REDRIVE_ORIGIN, this)
    headers[HEADER_REDRIVE_OF] = this
    return tuple((name, value.encode("utf-8")) for name, value in headers.items())


def mark_value(letter: Letter, at: datetime, by: str) -> bytes:
    """The mark's value: JSON, read by people and by nothing but this package's ``redriven``."""
    dead = letter.letter
    return orjson.dumps(
        {
            "v": MARK_VERSION,
            "letter": str(letter.id),
            "source_topic": dead.source_topic,
            "source_partition": dead.partition,
            "source_offset": dead.offset,
            "error_code": dead.error_code,
            "redriven_at": at.isoformat(),
            "by": by,
        }
    )


def outbound(letter: Letter, topics: DlqTopics, at: datetime, by: str) -> list[Outbound]:
    """The original record to its source topic and partition, and the letter's mark.

    The same partition, not the same key hashed again: producers differ in partitioners,
    and an account's records must stay on the partition that holds its feature state.
    """
    dead = letter.letter
    headers = redrive_headers(letter, topics)
    return [
        Outbound(dead.source_topic, dead.key, dead.value, headers, partition=dead.partition),
        Outbound(
            topics.marks, letter.id.mark_key(topics.declared).encode(), mark_value(letter, at, by)
        ),
    ]


@dataclass
class RedriveReport:
    """What a run did: re-driven, already re-driven before, or skipped and why."""

    pending: list[Letter] = field(default_factory=list)
    redriven: list[Letter] = field(default_factory=list)
    already: list[Letter] = field(default_factory=list)
    skipped: list[tuple[Letter, str]] = field(default_factory=list)
    # Ids asked for by name that the topic does not hold (never written, or expired).
    missing: list[LetterId] = field(default_factory=list)
    dry_run: bool = False


def plan(
    letters: Sequence[Letter], chosen: LetterFilter, topic_exists: Callable[[str], bool]
) -> RedriveReport:
    """Which of ``letters`` a run re-drives; pure apart from the topic look-up it is given."""
    report = RedriveReport()
    known: dict[str, bool] = {}
    selected = chosen.select(letters)
    report.missing = sorted(chosen.ids - {letter.id for letter in selected})
    for letter in selected:
        source = letter.letter.source_topic
        if source not in known and not letter.redriven:
            known[source] = topic_exists(source)
        if letter.redriven:
            report.already.append(letter)
        elif HEADER_PAN_MASKED in letter.letter.headers:
            report.skipped.append((letter, MASKED))
        elif not known[source]:
            report.skipped.append((letter, f"source topic {source} does not exist"))
        else:
            report.pending.append(letter)
    return report


def redrive(
    conn: KafkaConnection,
    topics: DlqTopics,
    chosen: LetterFilter,
    dry_run: bool = False,
    on_progress: Callable[[int], None] = lambda _n: None,
    by: str | None = None,
) -> RedriveReport:
    """Re-drive the letters ``chosen`` selects that no run re-drove before. ``by`` names who
    in the marks (default: the OS account and host; the console passes its user)."""
    if not kafka.topic_exists(conn, topics.marks):
        raise kafka.TopicMissing(
            f"topic {topics.marks} does not exist: `sentinel topics apply` creates it"
        )
    producer = None if dry_run else RedriveProducer(conn, topics.name)
    try:
        if producer is not None:
            producer.fence()  # before reading the marks: see the module docstring
        loaded = load_letters(conn, topics, read_marks(conn, topics))
        report = plan(loaded.letters, chosen, lambda name: kafka.topic_exists(conn, name))
        report.dry_run = dry_run
        if producer is None:
            return report
        at, by = datetime.now(UTC), by or operator()
        while report.pending:
            chunk, report.pending = report.pending[:CHUNK], report.pending[CHUNK:]
            try:
                producer.commit([out for one in chunk for out in outbound(one, topics, at, by)])
            except kafka.DlqError as exc:
                done = len(report.redriven)
                raise type(exc)(f"{exc} ({done} letter(s) re-driven before this)") from exc
            report.redriven.extend(chunk)
            on_progress(len(chunk))
        return report
    finally:
        if producer is not None:
            producer.close()
