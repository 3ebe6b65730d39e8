"""The committed OpenAPI document is the one the app serves, and states what the server
refuses."""

from __future__ import annotations

import json

import pytest
from jsonschema_rs import Draft202012Validator

from ingest_api.cli import OPENAPI_PATH, openapi_document
from ingest_api.models import COUNTRIES, CURRENCY_EXPONENT
from ingest_api.settings import ApiSettings


def test_committed_openapi_matches_the_app() -> None:
    assert OPENAPI_PATH.read_text() == openapi_document(), "run `sentinel api openapi`"


def test_every_v1_operation_declares_the_stable_error_body() -> None:
    document = json.loads(openapi_document())
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            for status in ("401", "422", "429", "503"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


def test_bodies_of_raw_routes_are_documented() -> None:
    document = json.loads(openapi_document())
    body = document["paths"]["/v1/transactions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/TransactionIn")
    assert document["components"]["schemas"]["TransactionIn"]["additionalProperties"] is False
    body = document["paths"]["/v1/labels"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/LabelIn")
    assert document["components"]["schemas"]["LabelIn"]["additionalProperties"] is False


def _transaction_schema_validator() -> Draft202012Validator:
    document = json.loads(openapi_document())
    root = {"$ref": "#/components/schemas/TransactionIn", "components": document["components"]}
    return Draft202012Validator(root, validate_formats=True)


VALID = {
    "transaction_id": "1db7a402-9548-413b-8fc7-4076c88aa5c4",
    "account_id": "acct-1",
    "card_token": "tok_9f8e7d6c5b4a",
    "amount": "42.50",
    "currency": "INR",
    "merchant_id": "m-77",
    "country": "IN",
    "channel": "POS",
    "timestamp": "2026-11-30T11:59:00+05:30",
    "type": "debit",
}


@pytest.mark.parametrize(
    "change",
    [
        {"currency": "ABC"},  # the shape of a code, not an ISO 4217 one
        {"currency": "inr"},
        {"country": "ZZ"},  # not ISO 3166-1
        {"amount": "0"},
        {"amount": "0.0000"},
        {"amount": "000"},
    ],
)
def test_the_schema_refuses_what_the_server_refuses(change: dict[str, str]) -> None:
    # A client generated from the document must refuse these before sending them.
    assert not _transaction_schema_validator().is_valid(VALID | change)


@pytest.mark.parametrize(
    "change", [{}, {"amount": "0.01"}, {"amount": "10"}, {"currency": "JPY", "amount": "1500"}]
)
def test_the_schema_accepts_what_the_server_accepts(change: dict[str, str]) -> None:
    assert _transaction_schema_validator().is_valid(VALID | change)


def test_the_iso_lists_are_exactly_the_servers() -> None:
    properties = json.loads(openapi_document())["components"]["schemas"]["TransactionIn"]
    properties = properties["properties"]
    assert set(properties["currency"]["enum"]) == set(CURRENCY_EXPONENT)
    assert set(properties["country"]["enum"]) == COUNTRIES
    assert properties["timestamp"]["x-sentinel-window"] == {
        "max_age_days": ApiSettings().max_age_days,
        "max_future_skew_s": ApiSettings().max_future_skew_s,
    }


def test_the_cursor_format_is_stated() -> None:
    operation = json.loads(openapi_document())["paths"]["/v1/accounts/{account_id}/transactions"]
    [cursor] = [p for p in operation["get"]["parameters"] if p["name"] == "cursor"]
    assert cursor["schema"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_-]+$"
