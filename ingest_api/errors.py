"""Domain errors of the ingest API; ``ingest_api.handlers`` maps them to HTTP in one place."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """Root error: a stable ``code``, a human ``message`` and structured ``details``."""

    status = 500
    code = "internal"

    def __init__(self, message: str, details: Any = None, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


class InvalidRequest(IngestError):
    status, code = 422, "validation_failed"


class Unauthorized(IngestError):
    status, code = 401, "unauthorized"


class Forbidden(IngestError):
    status, code = 403, "forbidden"


class NotFound(IngestError):
    status, code = 404, "not_found"


class TransactionNotFound(NotFound):
    """A request names a transaction the ledger does not hold (e.g. a label for it)."""

    code = "transaction_not_found"


class IdempotencyKeyMissing(IngestError):
    status, code = 400, "idempotency_key_required"


class IdempotencyKeyReused(IngestError):
    """The same key came with a different body."""

    status, code = 422, "idempotency_key_reused"


class IdempotencyInFlight(IngestError):
    """The first request with this key has not finished yet."""

    status, code = 409, "idempotency_key_in_flight"


class RateLimited(IngestError):
    status, code = 429, "rate_limited"


class Unavailable(IngestError):
    """A dependency (Kafka, Redis, PostgreSQL) cannot take the request now: retry later.

    Raise it ``from`` the dependency's error with a generic message: the handler logs the
    cause, and the client, perhaps not even authenticated yet, never sees hosts, database
    names or driver text.
    """

    status, code = 503, "unavailable"

    def __init__(self, message: str, retry_after_s: int = 1, details: Any = None) -> None:
        super().__init__(message, details, headers={"Retry-After": str(retry_after_s)})


class KafkaRefused(Unavailable):
    """Kafka refuses this service: its credentials, or a write its ACLs do not grant. Not a
    blip: it lasts until an operator fixes the principal, its password or its ACLs."""

    code = "kafka_refused"


class Conflict(IngestError):
    status, code = 409, "conflict"


class RuleInvalid(IngestError):
    """A rule expression that does not compile; details carry the line and column."""

    status, code = 422, "rule_invalid"


class TransactionIdConflict(IngestError):
    """The transaction id was already used for a transaction with other content."""

    status, code = 409, "transaction_id_conflict"
