"""The one wire codec: Confluent-framed Avro (0x00, 4-byte big-endian schema id, body).

Decoding resolves the writer's version into the reader's, so a consumer reads messages
written with any known version. Every failure is a `schemas.errors.SchemaError`: on bytes,
a `DecodeError` the stream can dead-letter with its `code`; never a bare fastavro error.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, TypeVar, cast

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from schemas.errors import IncompatibleSchema, InvalidRecord, MalformedMessage, UnexpectedRecord
from schemas.records import (
    AccountProfile,
    AvroRecord,
    DeadLetter,
    Decision,
    Label,
    MerchantRisk,
    ModelAnnouncement,
    NamedList,
    ReviewResolution,
    Rule,
    Transaction,
    WebhookEvent,
)
from schemas.registry import MAGIC_BYTE, SchemaInfo, default_registry

R = TypeVar("R", bound=AvroRecord)
Buffer = bytes | bytearray | memoryview

_HEADER = struct.Struct(">BI")
HEADER_SIZE = _HEADER.size


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded message: the schema it was written with, the one it was read as, the value."""

    writer: SchemaInfo
    reader: SchemaInfo
    value: dict[str, Any]

    @property
    def record(self) -> str:
        """The record name, e.g. "transaction"."""
        return self.writer.record


def encode(record: str, value: Mapping[str, Any], version: int | None = None) -> bytes:
    """Frame and encode `value` as `record` at `version` (default: latest).

    Keys the schema does not have are ignored, so a latest-version dict encodes at an
    older version too. Raises UnknownSchema for an unknown record/version and
    InvalidRecord when `value` does not fit the schema.
    """
    info = default_registry().get(record, version)
    buf = BytesIO()
    buf.write(info.header)
    try:
        schemaless_writer(buf, info.parsed, value)
    except Exception as exc:  # fastavro reports misfits as ValueError, TypeError, KeyError...
        raise InvalidRecord(f"{record} v{info.version}: {type(exc).__name__}: {exc}") from exc
    return buf.getvalue()


def peek_schema(data: Buffer | None) -> SchemaInfo:
    """The schema `data` was written with, from its 5-byte header alone."""
    if data is None:
        # A Kafka tombstone: callers of compacted topics check for it before decoding.
        raise MalformedMessage("null value (tombstone), not an Avro message")
    if len(data) < HEADER_SIZE:
        raise MalformedMessage(f"{len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    magic, sid = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise MalformedMessage(f"magic byte {magic:#04x}, expected {MAGIC_BYTE:#04x}")
    return default_registry().by_id(sid)


def decode(data: Buffer | None, reader_version: int | None = None) -> Decoded:
    """Decode a message of any record, read as `reader_version` (default: latest)."""
    writer = peek_schema(data)
    reader = default_registry().get(writer.record, reader_version)
    return Decoded(writer, reader, _read(cast(Buffer, data), writer, reader))


def decode_record(
    record: str, data: Buffer | None, reader_version: int | None = None
) -> dict[str, Any]:
    """Decode a message that must be a `record` (UnexpectedRecord otherwise)."""
    writer = peek_schema(data)
    if writer.record != record:
        raise UnexpectedRecord(f"expected a {record}, got {writer.record} v{writer.version}")
    reader = default_registry().get(record, reader_version)
    return _read(cast(Buffer, data), writer, reader)


def _read(data: Buffer, writer: SchemaInfo, reader: SchemaInfo) -> dict[str, Any]:
    buf = BytesIO(data)
    buf.seek(HEADER_SIZE)
    # Same schema: skip resolution (fastavro would otherwise compare the two dicts deeply).
    reader_schema = None if reader is writer else reader.parsed
    try:
        value = schemaless_reader(buf, writer.parsed, reader_schema)
    except SchemaResolutionError as exc:
        raise IncompatibleSchema(f"{_name(writer)} -> v{reader.version}: {exc}") from exc
    except Exception as exc:  # on arbitrary bytes fastavro can raise almost anything
        raise MalformedMessage(f"{_name(writer)} body: {type(exc).__name__}: {exc}") from exc
    if buf.tell() != len(data):
        raise MalformedMessage(f"{_name(writer)}: {len(data) - buf.tell()} trailing bytes")
    return cast(dict[str, Any], value)


def _name(info: SchemaInfo) -> str:
    return f"{info.record} v{info.version} (schema id {info.schema_id})"


def encode_obj(obj: AvroRecord, version: int | None = None) -> bytes:
    """Encode a record object at `version` (default: latest)."""
    if isinstance(obj, Decision):  # its features move between fields across versions
        return encode_decision(obj, version)
    return encode(obj.RECORD, obj.to_avro(), version)


def decode_as(cls: type[R], data: Buffer | None, reader_version: int | None = None) -> R:
    """Decode a message that must hold a `cls` record into a `cls` object."""
    return _as(cls, decode_record(cls.RECORD, data, reader_version))


def _as(cls: type[R], value: dict[str, Any]) -> R:
    try:
        return cls.from_avro(value)
    except (KeyError, ValueError, TypeError) as exc:
        # The schema decoded but the Python type disagrees with it: a contract bug.
        raise IncompatibleSchema(f"{cls.RECORD} does not fit {cls.__name__}: {exc}") from exc


# Typed shorthands, one pair per record, so call sites read encode_transaction(tx).


def encode_transaction(tx: Transaction, version: int | None = None) -> bytes:
    return encode_obj(tx, version)


def decode_transaction(
    data: Buffer | None, reader_version: int | None = None, *, ingested_at: datetime | None = None
) -> Transaction:
    """``ingested_at``: the ingest time to give a transaction that carries none (set before
    the object is built: the agents' hot path, where a copy afterwards cost 3 µs)."""
    if ingested_at is None:
        return decode_as(Transaction, data, reader_version)
    value = decode_record(Transaction.RECORD, data, reader_version)
    if value.get("ingested_at") is None:
        value["ingested_at"] = ingested_at
    return _as(Transaction, value)


# Decision v4 carries the listed features by position (``feature_values``); before it, by
# name only.
FEATURE_VALUES_SINCE = 4


def encode_decision(decision: Decision, version: int | None = None) -> bytes:
    if version is not None and version < FEATURE_VALUES_SINCE:
        return encode(
            decision.RECORD, {**decision.to_avro(), "features": decision.features}, version
        )
    return encode(decision.RECORD, decision.to_avro(), version)


def decode_decision(data: Buffer | None, reader_version: int | None = None) -> Decision:
    return decode_as(Decision, data, reader_version)


def encode_webhook_event(event: WebhookEvent, version: int | None = None) -> bytes:
    return encode_obj(event, version)


def decode_webhook_event(data: Buffer | None, reader_version: int | None = None) -> WebhookEvent:
    return decode_as(WebhookEvent, data, reader_version)


def encode_rule(rule: Rule, version: int | None = None) -> bytes:
    return encode_obj(rule, version)


def decode_rule(data: Buffer | None, reader_version: int | None = None) -> Rule:
    return decode_as(Rule, data, reader_version)


def encode_label(label: Label, version: int | None = None) -> bytes:
    return encode_obj(label, version)


def decode_label(data: Buffer | None, reader_version: int | None = None) -> Label:
    return decode_as(Label, data, reader_version)


def encode_review_resolution(resolution: ReviewResolution, version: int | None = None) -> bytes:
    return encode_obj(resolution, version)


def decode_review_resolution(
    data: Buffer | None, reader_version: int | None = None
) -> ReviewResolution:
    return decode_as(ReviewResolution, data, reader_version)


def encode_dead_letter(letter: DeadLetter, version: int | None = None) -> bytes:
    """The letter's bytes, card numbers masked: every service's dead letters pass here, so
    none is stored (30 days on the topic) or re-driven with a PAN in clear."""
    return encode_obj(letter.masked(), version)


def decode_dead_letter(data: Buffer | None, reader_version: int | None = None) -> DeadLetter:
    return decode_as(DeadLetter, data, reader_version)


def encode_account_profile(profile: AccountProfile, version: int | None = None) -> bytes:
    return encode_obj(profile, version)


def decode_account_profile(
    data: Buffer | None, reader_version: int | None = None
) -> AccountProfile:
    return decode_as(AccountProfile, data, reader_version)


def encode_named_list(named: NamedList, version: int | None = None) -> bytes:
    return encode_obj(named, version)


def decode_named_list(data: Buffer | None, reader_version: int | None = None) -> NamedList:
    return decode_as(NamedList, data, reader_version)


def encode_merchant_risk(risk: MerchantRisk, version: int | None = None) -> bytes:
    return encode_obj(risk, version)


def decode_merchant_risk(data: Buffer | None, reader_version: int | None = None) -> MerchantRisk:
    return decode_as(MerchantRisk, data, reader_version)


def encode_model_announcement(announcement: ModelAnnouncement, version: int | None = None) -> bytes:
    return encode_obj(announcement, version)


def decode_model_announcement(
    data: Buffer | None, reader_version: int | None = None
) -> ModelAnnouncement:
    return decode_as(ModelAnnouncement, data, reader_version)
