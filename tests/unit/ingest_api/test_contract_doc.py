"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json

from ingest_api.cli import OPENAPI_PATH, openapi_document


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
