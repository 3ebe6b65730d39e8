"""The records of the ``webhooks.retry`` topic: the event's bytes, and headers saying for
whom, which attempt is next, and when it is due (so a restart keeps the schedule)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SUBSCRIPTION = "sentinel-subscription-id"
ATTEMPT = "sentinel-attempt"
DUE_MS = "sentinel-due-ms"
LAST_ERROR = "sentinel-last-error"
EVENT_ID = "sentinel-event-id"
_MAX_ERROR = 500


class InvalidRetryRecord(ValueError):
    """A retry record without the headers this module writes."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """Attempt `attempt` of delivering the record's event to `subscription_id`, at `due_ms`."""

    subscription_id: str
    attempt: int
    due_ms: int
    last_error: str = ""
    event_id: str = ""

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            (SUBSCRIPTION, self.subscription_id.encode()),
            (ATTEMPT, str(self.attempt).encode()),
            (DUE_MS, str(self.due_ms).encode()),
            (LAST_ERROR, self.last_error[:_MAX_ERROR].encode("utf-8", "replace")),
            (EVENT_ID, self.event_id.encode()),
        ]


def parse(headers: Mapping[str, bytes]) -> Ticket:
    """The ticket in a retry record's headers, or InvalidRetryRecord."""
    try:
        return Ticket(
            subscription_id=headers[SUBSCRIPTION].decode(),
            attempt=int(headers[ATTEMPT]),
            due_ms=int(headers[DUE_MS]),
            last_error=headers.get(LAST_ERROR, b"").decode("utf-8", "replace"),
            event_id=headers.get(EVENT_ID, b"").decode("utf-8", "replace"),
        )
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidRetryRecord(f"not a retry record: {type(exc).__name__}: {exc}") from exc
