"""Reading a dead-letter topic and its re-drive marks into ``Letter`` values."""

from __future__ import annotations

from dataclasses import dataclass

from dlq import kafka
from dlq.letters import Letter, LetterId, Unreadable, with_marks
from schemas.codec import decode_dead_letter
from schemas.connections import KafkaConnection
from schemas.errors import SchemaError
from schemas.kafka_edge import RawRecord
from schemas.topics import DEAD_LETTER_REDRIVES


@dataclass(frozen=True, slots=True)
class DlqTopics:
    """A dead-letter topic as declared and as on the cluster, and where its marks go."""

    declared: str
    name: str
    marks: str

    @classmethod
    def of(cls, declared: str, prefix: str) -> DlqTopics:
        return cls(declared, f"{prefix}{declared}", f"{prefix}{DEAD_LETTER_REDRIVES.name}")


@dataclass(frozen=True, slots=True)
class Loaded:
    letters: list[Letter]
    unreadable: list[Unreadable]


def _letter(record: RawRecord) -> Letter | Unreadable:
    letter_id = LetterId(record.partition, record.offset)
    try:
        return Letter(letter_id, decode_dead_letter(record.value))
    except SchemaError as exc:
        return Unreadable(letter_id, f"{exc.code}: {exc}")


def read_marks(conn: KafkaConnection, topics: DlqTopics) -> frozenset[str]:
    """The keys of every committed re-drive mark (none while the marks topic is missing)."""
    if not kafka.topic_exists(conn, topics.marks):
        return frozenset()
    return frozenset(
        record.key.decode("utf-8", "replace")
        for record in kafka.read_all(conn, topics.marks)
        if record.key is not None and record.value is not None
    )


def load_letters(
    conn: KafkaConnection,
    topics: DlqTopics,
    marks: frozenset[str] | None = None,
    last: int | None = None,
) -> Loaded:
    """Every letter of the topic as it stood when the read started, marked if re-driven;
    with ``last``, only the newest ``last`` offsets of each partition."""
    marks = read_marks(conn, topics) if marks is None else marks
    letters: list[Letter] = []
    unreadable: list[Unreadable] = []
    for record in kafka.read_all(conn, topics.name, last=last):
        item = _letter(record)
        if isinstance(item, Letter):
            letters.append(item)
        else:
            unreadable.append(item)
    return Loaded(with_marks(letters, marks, topics.declared), unreadable)


def load_letter(
    conn: KafkaConnection, topics: DlqTopics, letter_id: LetterId
) -> Letter | Unreadable | None:
    """One letter by id, or None when the topic has no record there (any more)."""
    record = kafka.read_one(conn, topics.name, letter_id.partition, letter_id.offset)
    if record is None:
        return None
    item = _letter(record)
    if isinstance(item, Unreadable):
        return item
    return with_marks([item], read_marks(conn, topics), topics.declared)[0]
