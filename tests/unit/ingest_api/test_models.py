"""Strict validation of the public transaction contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from ingest_api.models import TransactionIn, ValidationContext
from schemas.enums import Channel, TxType

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CTX = ValidationContext(now=NOW, max_future_skew_s=300, max_age_days=90)


def valid(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_id": str(uuid.uuid4()),
        "account_id": "acct-1",
        "card_token": "tok_9f8e7d6c5b4a",
        "amount": "42.50",
        "currency": "INR",
        "merchant_id": "m-77",
        "mcc": "5411",
        "country": "IN",
        "city": "Pune",
        "lat": 18.52,
        "lon": 73.85,
        "channel": "POS",
        "device_id": "dev-1",
        "ip": "203.0.113.7",
        "timestamp": "2026-11-30T11:59:00+05:30",
        "type": "debit",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def parse(body: dict[str, Any]) -> TransactionIn:
    return TransactionIn.model_validate_json(orjson.dumps(body), strict=True, context=CTX)


def error_paths(body: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as info:
        parse(body)
    return {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_a_full_transaction_becomes_a_record_in_utc_with_an_exact_amount() -> None:
    tx = parse(valid())
    record = tx.to_record(NOW, "idem-1")
    assert record.amount == Decimal("42.50")
    assert record.timestamp == datetime(2026, 11, 30, 6, 29, tzinfo=UTC)
    assert (record.channel, record.type) == (Channel.POS, TxType.DEBIT)
    assert record.ingested_at == NOW and record.idempotency_key == "idem-1"
    assert record.ip == "203.0.113.7"


def test_optional_fields_may_be_absent() -> None:
    body = valid(mcc=..., city=..., lat=..., lon=..., device_id=..., ip=...)
    assert parse(body).city is None


@pytest.mark.parametrize(
    "field",
    [
        "transaction_id",
        "account_id",
        "card_token",
        "amount",
        "currency",
        "merchant_id",
        "country",
        "channel",
        "timestamp",
        "type",
    ],
)
def test_required_fields(field: str) -> None:
    assert field in error_paths(valid(**{field: ...}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 42.5),  # a JSON number: floats cannot carry money
        ("amount", "0"),
        ("amount", "-1.00"),
        ("amount", "1e3"),
        ("amount", "12.345"),  # INR has two decimals
        ("currency", "XYZ"),
        ("currency", "inr"),
        ("country", "ZZ"),
        ("channel", "PHONE"),
        ("type", "DEBIT"),
        ("mcc", "54"),
        ("lat", 91),
        ("lon", -181),
        ("ip", "999.1.1.1"),
        ("transaction_id", "not-a-uuid"),
        ("account_id", ""),
        ("account_id", "a" * 65),
        ("timestamp", "2026-11-30T11:59:00"),  # no zone
        ("timestamp", "2026-11-30T13:00:00Z"),  # an hour in the future
        ("timestamp", "2026-01-01T00:00:00Z"),  # older than 90 days
        ("timestamp", 1764500000),
    ],
)
def test_bad_values_name_their_field(field: str, value: Any) -> None:
    paths = error_paths(valid(**{field: value}))
    assert paths == {field} or (field == "amount" and paths == {""})


@pytest.mark.parametrize(
    "token", ["4111111111111111", "4111 1111 1111 1111", "tok_4111111111111111"]
)
def test_a_card_number_is_refused_as_a_token(token: str) -> None:
    assert error_paths(valid(card_token=token)) == {"card_token"}


def test_unknown_fields_are_refused() -> None:
    assert error_paths(valid(pan="x")) == {"pan"}


def test_currency_decimals_follow_iso_4217() -> None:
    assert parse(valid(currency="JPY", amount="1200")).amount == "1200"
    assert error_paths(valid(currency="JPY", amount="1200.5")) == {""}
    assert parse(valid(currency="BHD", amount="1.125")).amount == "1.125"
    assert parse(valid(amount="42.5000")).amount == "42.5000"  # trailing zeros are exact


def test_clock_skew_within_bounds_is_accepted() -> None:
    soon = (NOW + timedelta(seconds=299)).isoformat()
    assert parse(valid(timestamp=soon)).timestamp.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        "Pune\u202e",  # RIGHT-TO-LEFT OVERRIDE: the rest displays reversed
        "\u2066Pune\u2069",  # LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE
        "Pu\u200bne",  # ZERO WIDTH SPACE: two names that look the same
        "Pu\u00adne",  # SOFT HYPHEN
        "\ufeffPune",  # BYTE ORDER MARK
        "Pune\U000e0041",  # TAG LATIN CAPITAL LETTER A (astral)
        "Pune\x85",  # NEXT LINE, a C1 control
    ],
)
@pytest.mark.parametrize("field", ["city", "device_id"])
def test_format_and_c1_characters_are_refused_in_free_text(field: str, text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        TransactionIn.model_validate_json(orjson.dumps(valid(**{field: text})), context=CTX)
    assert refused.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("text", ["München", "São Paulo", "पुणे", "東京", "Zürich 8001"])
def test_ordinary_non_ascii_text_is_kept(text: str) -> None:
    tx = TransactionIn.model_validate_json(orjson.dumps(valid(city=text)), context=CTX)
    assert tx.city == text


def test_rule_text_refuses_format_characters_too() -> None:
    # Rule names, descriptions and expressions share the types: a "Trojan Source" rule, whose
    # expression reads differently from what it evaluates, is refused on save.
    from ingest_api.routes.rules import RuleIn

    hidden = 'amount > 5000 and country != "IN\u202e\u2066" && true'
    with pytest.raises(ValidationError) as refused:
        RuleIn.model_validate(
            {"name": "away", "expression": hidden, "action": "REVIEW", "priority": 1}
        )
    assert [e["loc"] for e in refused.value.errors()] == [("expression",)]
