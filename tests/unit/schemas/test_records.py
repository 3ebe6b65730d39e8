"""Tests for schemas.records: round trips through the codec, field checks, ids, mirroring."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import decode_as, decode_received, encode_decision, encode_obj
from schemas.errors import InvalidRecord
from schemas.records import (
    RECORD_TYPES,
    AccountProfile,
    AvroRecord,
    Channel,
    DeadLetter,
    Decision,
    Label,
    MerchantRisk,
    ModelAnnouncement,
    Outcome,
    ReasonCode,
    Rule,
    RuleHit,
    RuleMode,
    Transaction,
    TxType,
    WebhookEvent,
    decision_id_for,
    uuid5_text,
    webhook_event_id_for,
)
from schemas.registry import default_registry

# The wire keeps milliseconds; any fixed UTC offset must come back as the same instant.
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.one_of(st.just(UTC), offsets),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
amounts = st.decimals(
    min_value=Decimal("-99999999999999.9999"),
    max_value=Decimal("99999999999999.9999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
texts = st.text(max_size=12)
maybe_texts = st.none() | texts
doubles = st.floats(allow_nan=False)  # NaN would round-trip but never compare equal
ints = st.integers(min_value=-(2**31), max_value=2**31 - 1)

transactions = st.builds(
    Transaction,
    transaction_id=st.uuids().map(str),
    account_id=texts,
    card_token=texts,
    amount=amounts,
    currency=st.sampled_from(["EUR", "USD", "INR"]),
    merchant_id=texts,
    country=st.sampled_from(["FR", "US", "IN"]),
    channel=st.sampled_from(Channel),
    timestamp=moments,
    type=st.sampled_from(TxType),
    mcc=st.none() | st.from_regex(r"[0-9]{4}", fullmatch=True),
    city=maybe_texts,
    lat=st.none() | doubles,
    lon=st.none() | doubles,
    device_id=maybe_texts,
    ip=maybe_texts,
    ingested_at=st.none() | moments,
    idempotency_key=maybe_texts,
    merchant_name=maybe_texts,
)
rule_hits = st.builds(RuleHit, rule_id=texts, version=ints, action=texts)
decisions = st.builds(
    Decision,
    decision_id=texts,
    transaction_id=texts,
    account_id=texts,
    outcome=st.sampled_from(Outcome),
    risk_score=st.floats(min_value=0, max_value=1),
    ingested_at=moments,
    decided_at=moments,
    transaction=transactions,
    model_version=maybe_texts,
    challenger_model_version=maybe_texts,
    challenger_score=st.none() | st.floats(min_value=0, max_value=1),
    rules_fired=st.lists(rule_hits, max_size=3).map(tuple),
    shadow_rules_fired=st.lists(rule_hits, max_size=3).map(tuple),
    reason_codes=st.lists(
        st.builds(ReasonCode, feature=texts, value=doubles, contribution=doubles), max_size=3
    ).map(tuple),
    features=st.dictionaries(texts, doubles, max_size=5),
)
SUPPORT_RECORDS: dict[type[Any], st.SearchStrategy[Any]] = {
    WebhookEvent: st.builds(
        WebhookEvent,
        event_id=texts,
        event_type=texts,
        created_at=moments,
        account_id=texts,
        transaction_id=texts,
        payload_json=texts,
    ),
    Rule: st.builds(
        Rule,
        rule_id=texts,
        version=ints,
        name=texts,
        description=texts,
        expression=texts,
        action=texts,
        priority=ints,
        mode=st.sampled_from(RuleMode),
        author=texts,
        updated_at=moments,
        score_delta=st.none() | doubles,
    ),
    Label: st.builds(
        Label,
        transaction_id=texts,
        account_id=texts,
        merchant_id=texts,
        is_fraud=st.booleans(),
        labelled_at=moments,
        transaction_timestamp=moments,
        scenario=maybe_texts,
        reason=maybe_texts,
    ),
    DeadLetter: st.builds(
        DeadLetter,
        source_topic=texts,
        partition=ints,
        offset=st.integers(min_value=-(2**63), max_value=2**63 - 1),
        value=st.binary(max_size=20),
        error_code=texts,
        error_message=texts,
        failed_at=moments,
        key=st.none() | st.binary(max_size=8),
        headers=st.dictionaries(texts, texts, max_size=3),
    ),
    ModelAnnouncement: st.builds(
        ModelAnnouncement,
        role=st.sampled_from(["champion", "challenger"]),
        version=texts,
        announced_at=moments,
        announced_by=texts,
        forced=st.booleans(),
    ),
    AccountProfile: st.builds(
        AccountProfile,
        account_id=texts,
        home_country=texts,
        updated_at=moments,
        home_lat=st.none() | doubles,
        home_lon=st.none() | doubles,
    ),
    MerchantRisk: st.builds(
        MerchantRisk,
        merchant_id=texts,
        hour=moments,
        tx_1d=ints,
        risk_1d=doubles,
        tx_7d=ints,
        risk_7d=doubles,
        tx_30d=ints,
        risk_30d=doubles,
        computed_at=moments,
    ),
}


def round_trip(obj: AvroRecord, version: int | None = None) -> AvroRecord:
    return decode_as(type(obj), encode_obj(obj, version))


@given(transactions)
def test_transaction_round_trips(tx: Transaction) -> None:
    assert round_trip(tx) == tx


@given(transactions)
def test_transaction_round_trips_through_v1_without_the_v2_field(tx: Transaction) -> None:
    assert round_trip(tx, version=1) == dataclasses.replace(tx, merchant_name=None)


@settings(max_examples=50)
@given(decisions)
def test_decision_round_trips(decision: Decision) -> None:
    assert round_trip(decision) == decision


@settings(max_examples=50)
@given(decisions)
def test_decision_round_trips_through_v2_without_the_challenger(decision: Decision) -> None:
    older = dataclasses.replace(decision, challenger_model_version=None, challenger_score=None)
    assert round_trip(decision, version=2) == older


@settings(max_examples=100)
@given(decisions, st.booleans(), st.sampled_from([1, 2]))
def test_a_decision_carrying_its_messages_bytes_is_the_one_encoded_whole(
    decision: Decision, carried: bool, version: int
) -> None:
    """What the agents publish (the transaction's bytes before ``ingested_at`` taken from
    its message) is byte for byte what encoding the whole decision writes, whether the
    message carried an ingest time or the agent filled one in; a v1 message gives none."""
    sent = dataclasses.replace(decision.transaction, ingested_at=None)
    if carried:
        sent = decision.transaction
    if version == 1:
        sent = dataclasses.replace(sent, merchant_name=None)
    filled_in = decision.ingested_at
    tx, front = decode_received(encode_obj(sent, version), filled_in)
    assert tx == dataclasses.replace(sent, ingested_at=sent.ingested_at or filled_in)
    assert (front is None) == (version == 1)
    decided = dataclasses.replace(decision, transaction=tx)
    assert encode_decision(decided, transaction_front=front) == encode_decision(decided)


def test_a_listed_feature_survives_a_decision_written_before_v4() -> None:
    """v4 carries the listed features by position, older versions by name only: the generic
    encoder writes them by name there too (it once dropped them; Hypothesis drew one)."""
    tx = Transaction(
        transaction_id=str(uuid.uuid4()), account_id="a", card_token="t", amount=Decimal("1"),
        currency="EUR", merchant_id="m", country="FR", channel=Channel.ECOM,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC), type=TxType.DEBIT,
    )  # fmt: skip
    decision = Decision(
        decision_id="d", transaction_id=tx.transaction_id, account_id="a",
        outcome=Outcome.APPROVE, risk_score=0.0, ingested_at=tx.timestamp,
        decided_at=tx.timestamp, transaction=tx, features={"is_weekend": 0.0, "other": 1.5},
    )  # fmt: skip
    for version in (2, 3, 4):
        assert round_trip(decision, version=version).features == decision.features, version


@pytest.mark.parametrize("cls", list(SUPPORT_RECORDS), ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_support_records_round_trip(cls: type[Any], data: st.DataObject) -> None:
    obj = data.draw(SUPPORT_RECORDS[cls])
    assert round_trip(obj) == obj


@pytest.mark.parametrize(
    "text", ["0.0001", "-0.0001", "99999999999999.9999", "-99999999999999.9999", "0", "1E+13"]
)
def test_amount_survives_exactly(text: str) -> None:
    tx = make_transaction(amount=Decimal(text))
    back = round_trip(tx)
    assert isinstance(back, Transaction)
    assert back.amount == Decimal(text)
    assert back.amount.as_tuple().exponent == -4  # always read back at scale 4


def test_trailing_zeros_beyond_the_scale_are_accepted() -> None:
    back = round_trip(make_transaction(amount=Decimal("12.500000")))
    assert isinstance(back, Transaction)
    assert str(back.amount) == "12.5000"


@pytest.mark.parametrize(
    "text", ["0.00001", "100000000000000", "1E+14", "NaN", "Infinity", "-Infinity", "sNaN"]
)
def test_amounts_that_do_not_fit_are_refused(text: str) -> None:
    with pytest.raises(InvalidRecord, match="amount"):
        make_transaction(amount=Decimal(text)).to_avro()


@pytest.mark.parametrize("field", ["timestamp", "ingested_at"])
def test_naive_datetimes_are_refused(field: str) -> None:
    naive = datetime(2025, 1, 1, 12, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidRecord, match="naive"):
        make_transaction(**{field: naive}).to_avro()


def test_timestamps_come_back_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    tx = make_transaction(timestamp=datetime(2025, 1, 1, 13, 0, tzinfo=paris))
    back = round_trip(tx)
    assert isinstance(back, Transaction)
    assert back.timestamp == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert back.timestamp.tzinfo is UTC


def test_outcomes_are_ordered_by_strictness() -> None:
    assert Outcome.APPROVE < Outcome.REVIEW < Outcome.DECLINE
    assert sorted([Outcome.DECLINE, Outcome.APPROVE, Outcome.REVIEW]) == list(Outcome)
    assert max(Outcome.REVIEW, Outcome.APPROVE) is Outcome.REVIEW


def test_strictest_outcome_wins() -> None:
    assert Outcome.strictest(Outcome.APPROVE, Outcome.DECLINE, Outcome.REVIEW) is Outcome.DECLINE
    assert Outcome.strictest(Outcome.REVIEW) is Outcome.REVIEW
    assert Outcome.strictest() is Outcome.APPROVE


def test_outcomes_do_not_order_against_plain_strings() -> None:
    with pytest.raises(TypeError):
        assert Outcome.REVIEW < "DECLINE"
    with pytest.raises(TypeError):
        assert "APPROVE" < Outcome.REVIEW


def test_decision_and_event_ids_are_deterministic() -> None:
    first = decision_id_for("2f1e4c3a-0000-4000-8000-000000000001")
    assert first == decision_id_for("2f1e4c3a-0000-4000-8000-000000000001")
    assert first != decision_id_for("2f1e4c3a-0000-4000-8000-000000000002")
    # Pinned: these ids are already in ledgers and subscribers' dedup stores.
    assert first == "eaf7dc84-15e7-5529-b7ec-cf23f169544b"
    event = webhook_event_id_for(first, "decision.declined")
    assert event == "e5e32eae-b1af-5804-8f6d-4be1f0ff448f"
    assert event != webhook_event_id_for(first, "decision.approved")


@pytest.mark.parametrize("record", default_registry().records)
def test_each_record_type_mirrors_its_latest_schema(record: str) -> None:
    cls = RECORD_TYPES[record]
    latest = default_registry().latest(record)
    schema_fields = {f["name"] for f in latest.raw["fields"]}
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    # A field the wire spreads over others (a Decision's features, also by position) is
    # the only kind that may differ.
    spread = {w for codec in cls.FIELD_CODECS.values() for w in codec.wire}
    assert fields - set(cls.FIELD_CODECS) == schema_fields - spread


def make_transaction(**changes: Any) -> Transaction:
    base = Transaction(
        transaction_id="2f1e4c3a-0000-4000-8000-000000000001",
        account_id="acct-1",
        card_token="tok_abc",
        amount=Decimal("10.00"),
        currency="EUR",
        merchant_id="m-1",
        country="FR",
        channel=Channel.ECOM,
        timestamp=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        type=TxType.DEBIT,
    )
    return dataclasses.replace(base, **changes)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_ids_are_the_standard_uuid5_of_their_name(name: str) -> None:
    namespace = uuid.uuid5(uuid.NAMESPACE_DNS, "decision.sentinelstream.io")
    assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name))
    assert decision_id_for(name) == str(uuid.uuid5(namespace, name))
