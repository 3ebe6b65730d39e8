"""Tests for schemas.codec: framing, version resolution, and errors on bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import (
    HEADER_SIZE,
    decode,
    decode_as,
    decode_decision,
    decode_label,
    decode_received,
    decode_record,
    decode_transaction,
    encode,
    encode_decision,
    encode_label,
    encode_transaction,
    peek_schema,
)
from schemas.errors import (
    DecodeError,
    IncompatibleSchema,
    InvalidRecord,
    MalformedMessage,
    SchemaError,
    UnexpectedRecord,
    UnknownSchema,
    UnknownSchemaId,
)
from schemas.features import LIVE_FEATURE_NAMES
from schemas.records import (
    Channel,
    Decision,
    Label,
    Outcome,
    Transaction,
    TxType,
    decision_id_for,
)
from schemas.registry import default_registry

NOW = datetime(2025, 3, 1, 9, 30, 15, 250_000, tzinfo=UTC)
TX = Transaction(
    transaction_id="2f1e4c3a-0000-4000-8000-000000000001",
    account_id="acct-1",
    card_token="tok_abc",
    amount=Decimal("5000.0001"),
    currency="INR",
    merchant_id="m-1",
    country="IN",
    channel=Channel.POS,
    timestamp=NOW,
    type=TxType.DEBIT,
    city="Pune",
    lat=18.52,
    lon=73.85,
    merchant_name="Chai Point",
)
TX_BYTES = encode_transaction(TX)
ALL_IDS = [info.schema_id for info in default_registry()]


def test_messages_are_confluent_framed() -> None:
    assert TX_BYTES[:HEADER_SIZE] == b"\x00" + (1002).to_bytes(4, "big")
    assert encode_transaction(TX, version=1)[:HEADER_SIZE] == b"\x00\x00\x00\x03\xe9"
    assert peek_schema(TX_BYTES).version == 2


def test_decode_reports_writer_and_reader() -> None:
    decoded = decode(encode_transaction(TX, version=1))
    assert decoded.record == "transaction"
    assert (decoded.writer.version, decoded.reader.version) == (1, 2)
    assert decoded.value["merchant_name"] is None


def test_newer_data_reads_with_an_older_reader() -> None:
    value = decode_record("transaction", TX_BYTES, reader_version=1)
    assert "merchant_name" not in value
    assert decode_transaction(TX_BYTES, reader_version=1).merchant_name is None


def _decision(features: dict[str, float]) -> Decision:
    return Decision(
        decision_id=decision_id_for(TX.transaction_id),
        transaction_id=TX.transaction_id,
        account_id=TX.account_id,
        outcome=Outcome.APPROVE,
        risk_score=0.01,
        ingested_at=NOW,
        decided_at=NOW,
        transaction=TX,
        features=features,
    )


def test_decision_embeds_the_transaction() -> None:
    decision = dataclasses.replace(
        _decision({"amount_zscore": 3.5}), outcome=Outcome.REVIEW, risk_score=0.42
    )
    assert decode_decision(encode_decision(decision)) == decision
    old = decode_decision(encode_decision(decision, version=1))
    assert old.transaction == dataclasses.replace(TX, merchant_name=None)


def test_a_decision_carries_the_listed_features_by_position() -> None:
    features = {name: float(i) + 0.25 for i, name in enumerate(LIVE_FEATURE_NAMES)}
    del features["travel_speed_kmh"]  # no value: NaN in its place
    features["an_unlisted_feature"] = 7.0
    decision = _decision(features)
    data = encode_decision(decision)
    value = decode_record("decision", data)
    assert value["features"] == {"an_unlisted_feature": 7.0}
    assert len(value["feature_values"]) == len(LIVE_FEATURE_NAMES)
    assert math.isnan(value["feature_values"][LIVE_FEATURE_NAMES.index("travel_speed_kmh")])
    assert decode_decision(data) == decision
    # Names repeated per record were a third of its bytes: v3 (by name) against v4.
    assert len(data) < 0.75 * len(encode_decision(decision, version=3))


def test_decisions_written_by_name_read_the_same() -> None:
    features = {name: 1.5 for name in LIVE_FEATURE_NAMES[:5]}
    decision = _decision(features)
    for version in (1, 2, 3):
        assert decode_decision(encode_decision(decision, version=version)).features == features


def test_older_and_newer_writers_values_read_by_position() -> None:
    value = decode_record("decision", encode_decision(_decision({})))
    # An older writer knew fewer names; a newer one appended one this reader does not know.
    shorter = {**value, "feature_values": [2.0, 3.0]}
    assert decode_decision(encode("decision", shorter)).features == {
        LIVE_FEATURE_NAMES[0]: 2.0,
        LIVE_FEATURE_NAMES[1]: 3.0,
    }
    longer = {**value, "feature_values": [1.0] * (len(LIVE_FEATURE_NAMES) + 1)}
    assert decode_decision(encode("decision", longer)).features == dict.fromkeys(
        LIVE_FEATURE_NAMES, 1.0
    )


def test_encoding_an_unknown_record_or_version_is_a_caller_error() -> None:
    with pytest.raises(UnknownSchema):
        encode("nope", {})
    with pytest.raises(UnknownSchema):
        encode_transaction(TX, version=99)
    with pytest.raises(UnknownSchema):
        decode(TX_BYTES, reader_version=99)


@pytest.mark.parametrize(
    "value",
    [
        {},  # every required field missing
        {**TX.to_avro(), "channel": "CARRIER_PIGEON"},
        {**TX.to_avro(), "amount": Decimal("0.00001")},
        {**TX.to_avro(), "lat": "north"},
    ],
)
def test_values_that_do_not_fit_raise_invalid_record(value: dict[str, Any]) -> None:
    with pytest.raises(InvalidRecord):
        encode("transaction", value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (None, "tombstone"),
        (b"", "shorter than"),
        (b"\x00\x00\x00\x03", "shorter than"),
        (b"\x01" + TX_BYTES[1:], "magic byte 0x01"),
        (b"{}", "shorter than"),
        (b'{"transaction_id": "x"}', "magic byte 0x7b"),
        (TX_BYTES + b"\x00", "1 trailing bytes"),
    ],
)
def test_malformed_messages(data: bytes | None, match: str) -> None:
    with pytest.raises(MalformedMessage, match=match):
        decode(data)


def test_unknown_schema_id() -> None:
    with pytest.raises(UnknownSchemaId) as caught:
        decode(b"\x00\x00\x00\x03\xf2" + TX_BYTES[HEADER_SIZE:])  # 1010: no such version
    assert caught.value.schema_id == 1010
    assert caught.value.code == "unknown_schema_id"
    assert str(caught.value) == "unknown schema id 1010"
    assert pickle.loads(pickle.dumps(caught.value)).schema_id == 1010  # noqa: S301 - own data


@pytest.mark.parametrize("cut", range(HEADER_SIZE, len(TX_BYTES)))
def test_every_truncation_is_malformed(cut: int) -> None:
    with pytest.raises(MalformedMessage):
        decode_transaction(TX_BYTES[:cut])
    with pytest.raises(MalformedMessage):  # the agents' read, in two parts
        decode_received(TX_BYTES[:cut], NOW)


def test_a_message_of_another_record_is_unexpected() -> None:
    label = Label(
        transaction_id=TX.transaction_id,
        account_id=TX.account_id,
        merchant_id=TX.merchant_id,
        is_fraud=True,
        labelled_at=NOW,
        transaction_timestamp=NOW,
    )
    assert decode_label(encode_label(label)) == label
    with pytest.raises(UnexpectedRecord, match=r"expected a transaction, got label v\d"):
        decode_transaction(encode_label(label))


def test_a_decoded_value_the_python_type_cannot_hold_is_incompatible() -> None:
    class Narrow(Transaction):  # a type that lags behind the schema's enum symbols
        @classmethod
        def from_avro(cls, value: Any) -> Narrow:
            raise ValueError("'ATM' is not a valid Channel")

    with pytest.raises(IncompatibleSchema, match="does not fit Narrow"):
        decode_as(Narrow, TX_BYTES)


def test_errors_share_one_root_and_carry_codes() -> None:
    for error in (MalformedMessage, UnknownSchemaId, UnexpectedRecord, IncompatibleSchema):
        assert issubclass(error, DecodeError)
    assert issubclass(DecodeError, SchemaError)
    assert issubclass(InvalidRecord, SchemaError)
    assert MalformedMessage.code == "malformed_message"


def test_inputs_may_be_any_bytes_like() -> None:
    assert decode_transaction(bytearray(TX_BYTES)) == TX
    assert decode_transaction(memoryview(TX_BYTES)) == TX


@given(st.binary(max_size=64))
def test_random_bytes_raise_only_project_errors(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(data)


@given(st.sampled_from(ALL_IDS), st.binary(max_size=200))
def test_random_bodies_behind_a_valid_header_raise_only_project_errors(
    sid: int, body: bytes
) -> None:
    with contextlib.suppress(DecodeError):
        decode(b"\x00" + sid.to_bytes(4, "big") + body)


@given(st.integers(min_value=0, max_value=len(TX_BYTES) - 1), st.integers(0, 255))
def test_flipped_bytes_raise_only_project_errors(position: int, byte: int) -> None:
    data = bytearray(TX_BYTES)
    data[position] = byte
    with contextlib.suppress(DecodeError):
        decode_transaction(bytes(data))
    with contextlib.suppress(DecodeError):  # the agents' read, in two parts
        decode_received(bytes(data), NOW)


def test_a_default_ingest_time_fills_only_a_transaction_without_one() -> None:
    appended = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    assert TX.ingested_at is None
    assert decode_transaction(TX_BYTES, ingested_at=appended) == dataclasses.replace(
        TX, ingested_at=appended
    )
    own = dataclasses.replace(TX, ingested_at=NOW)
    assert decode_transaction(encode_transaction(own), ingested_at=appended) == own
    with pytest.raises(MalformedMessage):
        decode_transaction(TX_BYTES[:-1], ingested_at=appended)


def test_a_decision_keeps_another_writers_encoding_of_the_transaction() -> None:
    """Bytes that are valid Avro but not the encoding fastavro writes (a varint with a
    redundant continuation byte): the decision carries them as they are and decodes to
    the same values."""
    first = TX_BYTES[HEADER_SIZE]
    odd = TX_BYTES[:HEADER_SIZE] + bytes([first | 0x80, 0]) + TX_BYTES[HEADER_SIZE + 1 :]
    tx, front = decode_received(odd, NOW)
    assert tx == dataclasses.replace(TX, ingested_at=NOW)
    assert front is not None
    decision = dataclasses.replace(_decision({}), transaction=tx)
    carried = encode_decision(decision, transaction_front=front)
    assert carried != encode_decision(decision)
    assert decode_decision(carried) == decision


def test_the_agents_read_neither_trailing_bytes_nor_another_record() -> None:
    with pytest.raises(MalformedMessage, match="trailing"):
        decode_received(TX_BYTES + b"\x00", NOW)
    with pytest.raises(UnexpectedRecord):
        decode_received(encode_decision(_decision({})), NOW)
