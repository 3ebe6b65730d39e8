"""The one wire codec: Confluent-framed Avro (0x00, 4-byte big-endian schema id, body).

Decoding resolves the writer's version into the reader's, so a consumer reads messages
written with any known version. Every failure is a `schemas.errors.SchemaError`: on bytes,
a `DecodeError` the stream can dead-letter with its `code`; never a bare fastavro error.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, TypeVar, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import to_parsing_canonical_form

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
    return decode_received(data, ingested_at)[0]


def decode_received(
    data: Buffer | None, ingested_at: datetime
) -> tuple[Transaction, Buffer | None]:
    """A transaction message as the agents decide it (``ingested_at`` given to one that
    carries none), and, when it is written in the transaction schema the latest decision
    embeds, the Avro bytes of its fields before ``ingested_at`` as the message holds them:
    its decision may carry those as they are (``encode_decision``'s ``transaction_front``).
    Otherwise None: the decision encodes the transaction whole."""
    writer = peek_schema(data)
    embedding = _embedding()
    if embedding is None or writer is not embedding.transaction:
        value = decode_record(Transaction.RECORD, data)
        front = None
    else:
        # Read in two parts, so that where the first ends is known: Avro writes a
        # record as its fields' encodings one after another.
        value, front = _read_front(cast(Buffer, data), writer, embedding)
    if value.get("ingested_at") is None:
        value["ingested_at"] = ingested_at
    return _as(Transaction, value), front


def _read_front(
    data: Buffer, writer: SchemaInfo, embedding: _Embedding
) -> tuple[dict[str, Any], Buffer]:
    buf = BytesIO(data)
    buf.seek(HEADER_SIZE)
    try:
        value = cast(dict[str, Any], schemaless_reader(buf, embedding.front, None))
        split = buf.tell()
        value.update(cast(dict[str, Any], schemaless_reader(buf, embedding.back, None)))
    except Exception as exc:  # as in _read
        raise MalformedMessage(f"{_name(writer)} body: {type(exc).__name__}: {exc}") from exc
    if buf.tell() != len(data):
        raise MalformedMessage(f"{_name(writer)}: {len(data) - buf.tell()} trailing bytes")
    return value, data[HEADER_SIZE:split]


# Decision v4 carries the listed features by position (``feature_values``); before it, by
# name only.
FEATURE_VALUES_SINCE = 4


def encode_decision(
    decision: Decision, version: int | None = None, transaction_front: Buffer | None = None
) -> bytes:
    """``transaction_front``: what ``decode_received`` gave for the message
    ``decision.transaction`` was decoded from; the latest decision then carries those
    bytes as they are and encodes only the rest of the transaction (from ``ingested_at``,
    which the agents may fill in, on), instead of all of it (~40 % of a decision's
    encoding). For a message fastavro wrote (the API's, the simulator's) the bytes are the
    same either way; one from another Avro writer keeps that writer's encoding of the
    same values."""
    if version is not None and version < FEATURE_VALUES_SINCE:
        return encode(
            decision.RECORD, {**decision.to_avro(), "features": decision.features}, version
        )
    embedding = _embedding()
    if transaction_front is None or version is not None or embedding is None:
        return encode(decision.RECORD, decision.to_avro(), version)
    buf = BytesIO()
    buf.write(embedding.decision.header)
    try:
        schemaless_writer(buf, embedding.head, decision.to_avro_of(embedding.head_fields))
        buf.write(transaction_front)
        back = decision.transaction.to_avro_of(embedding.back_fields)
        schemaless_writer(buf, embedding.back, back)
    except Exception as exc:  # as in encode
        raise InvalidRecord(f"decision v{embedding.decision.version}: {exc}") from exc
    return buf.getvalue()


@dataclass(frozen=True, slots=True)
class _Embedding:
    """How the latest decision schema embeds one version of the transaction record (as
    its last field), as parsed schemas: ``head`` the decision without that field,
    ``front`` the transaction's fields before ``ingested_at``, ``back`` the rest."""

    decision: SchemaInfo
    transaction: SchemaInfo
    head: dict[str, Any]
    head_fields: tuple[str, ...]
    front: dict[str, Any]
    back: dict[str, Any]
    back_fields: tuple[str, ...]


_EMBEDDED = "transaction"  # the decision's field
_FILLED = "ingested_at"  # the first field of the transaction a decision may change


@functools.cache
def _embedding() -> _Embedding | None:
    """None when the latest decision's last field is no version of the transaction record
    (then every decision is encoded whole)."""
    registry = default_registry()
    decision = registry.latest(Decision.RECORD)
    fields = list(decision.raw["fields"])
    if fields[-1]["name"] != _EMBEDDED:
        return None
    embedded = to_parsing_canonical_form(fields[-1]["type"])
    for transaction in registry.versions(Transaction.RECORD):
        if to_parsing_canonical_form(dict(transaction.raw)) == embedded:
            break
    else:
        return None
    tx_fields = list(transaction.raw["fields"])
    cut = [f["name"] for f in tx_fields].index(_FILLED)
    # Each part parsed on its own, a fresh named-type table each (as the registry does).
    return _Embedding(
        decision,
        transaction,
        _part(decision.raw, fields[:-1]),
        tuple(f["name"] for f in fields[:-1]),
        _part(transaction.raw, tx_fields[:cut]),
        _part(transaction.raw, tx_fields[cut:]),
        tuple(f["name"] for f in tx_fields[cut:]),
    )


def _part(schema: Mapping[str, Any], fields: list[Any]) -> dict[str, Any]:
    return cast(dict[str, Any], parse_schema(dict(schema, fields=fields), {}))


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
