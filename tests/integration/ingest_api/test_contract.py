"""Schemathesis over the committed OpenAPI document, with (nearly) all its checks: no 5xx,
no contract violation, 405s with an exact Allow, refusals the schema predicts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS as REGISTRY
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

import ingest_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPENAPI = Path(ingest_api.__file__).with_name("openapi.json")
schema = schemathesis.openapi.from_path(OPENAPI)
ALL_CHECKS = REGISTRY.get_by_names(REGISTRY.get_all_names())

# Every check schemathesis has, but one: "positive data acceptance". Some refusals cannot be
# written in JSON Schema, so schema-valid data is still refused: the timestamp window moves
# with the clock (stated in the description and x-sentinel-window), a currency's decimals
# depend on the currency (JPY 0, INR 2), and card numbers are screened by Luhn.
CHECKS = [check for check in ALL_CHECKS if check is not positive_data_acceptance]
# A batch answers 202 with a result per item, so an invalid item is refused on its own, not
# with the batch: by design, the one operation where "negative data rejection" is not asked.
PER_ITEM = {("POST", "/v1/transactions/batch")}


@pytest.fixture(scope="module")
def contract_key(make_key: Callable[..., str]) -> str:
    return make_key("ingest,read,admin,labels", rate=100_000, burst=100_000)


@schema.parametrize()
# derandomize: CI sees the same examples every run (a red run is reproducible); explore new
# inputs locally with e.g. `pytest --hypothesis-seed=N` after removing it.
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_honours_its_contract(case: schemathesis.Case, api_url: str, contract_key: str) -> None:
    operation = (case.operation.method.upper(), case.operation.path)
    checks = [c for c in CHECKS if operation not in PER_ITEM or c is not negative_data_rejection]
    case.call_and_validate(
        base_url=api_url,
        headers={"Authorization": f"Bearer {contract_key}"},
        checks=checks,
        timeout=10,
    )
