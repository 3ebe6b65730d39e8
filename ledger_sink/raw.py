"""The dead letter that keeps a consumed record (``schemas.kafka_edge.RawRecord``) byte for
byte, with why it could not be handled."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter

# A dead letter's message is for people; the original bytes are what replays need.
_MAX_MESSAGE = 2_000


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
