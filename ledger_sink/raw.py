"""A Kafka record as the services' pure cores see it, and the dead letter that keeps it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.records import DeadLetter

# A dead letter's message is for people; the original bytes are what replays need.
_MAX_MESSAGE = 2_000


@dataclass(frozen=True, slots=True)
class RawRecord:
    """What a consumer read: where from, and the bytes exactly as they arrived."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        raw = self.headers.get(name)
        return None if raw is None else raw.decode("utf-8", "replace")


def dead_letter(
    record: RawRecord,
    code: str,
    message: str,
    now: datetime | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> DeadLetter:
    """`record` kept byte for byte with why it could not be handled."""
    headers = {name: raw.decode("utf-8", "replace") for name, raw in record.headers.items()}
    return DeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        # A tombstone has no bytes; the contract's value is required, so it is kept empty.
        value=record.value or b"",
        error_code=code,
        error_message=message[:_MAX_MESSAGE],
        failed_at=now or datetime.now(UTC),
        headers=headers | dict(extra_headers or {}),
    )
