"""Errors raised by the schema contracts: one root, stable codes for the dead-letter topic."""

from __future__ import annotations


class SchemaError(Exception):
    """Root of every error raised by `schemas`."""

    # Written to DeadLetter.error_code; stable, so dashboards and replays can filter on it.
    code: str = "schema_error"


class SchemaLoadError(SchemaError):
    """An .avsc file or the schema-id table is inconsistent: a packaging bug, fail fast."""

    code = "schema_load_error"


class UnknownSchema(SchemaError):
    """A record name or version that no .avsc file defines (a caller bug, not bad data)."""

    code = "unknown_schema"


class InvalidRecord(SchemaError):
    """A value cannot be encoded: it breaks the schema or the contract (naive time, bad amount)."""

    code = "invalid_record"


class DecodeError(SchemaError):
    """Bytes that cannot become a record; the stream dead-letters these and goes on."""

    code = "decode_error"


class MalformedMessage(DecodeError):
    """Not a framed Avro message: empty, wrong magic byte, truncated, trailing or garbage bytes."""

    code = "malformed_message"


class UnknownSchemaId(DecodeError):
    """Well framed, but written with a schema id this process does not know (upgrade it)."""

    code = "unknown_schema_id"

    def __init__(self, schema_id: int) -> None:
        # The id alone in args keeps the error picklable across worker processes.
        super().__init__(schema_id)
        self.schema_id = schema_id

    def __str__(self) -> str:
        return f"unknown schema id {self.schema_id}"


class UnexpectedRecord(DecodeError):
    """A valid message of another record type than the one the consumer expects."""

    code = "unexpected_record"


class IncompatibleSchema(DecodeError):
    """The writer's schema cannot be resolved into the reader's: a broken evolution."""

    code = "incompatible_schema"
