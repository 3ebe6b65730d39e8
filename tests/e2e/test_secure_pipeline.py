"""End to end over the stack's own SASL_SSL listener under the ACL table: the API, an agent
worker, the ledger sink, the webhook dispatcher and the rules relay, each its own principal.
A transaction posted to the API is decided once, in the ledger once, announced once;
authorize answers; a rule saved through the API (whose ACLs do not grant `rules`) reaches
the topic through the relay's principal, the only one that may write it."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import headers, transaction
from tests.support.e2e import (
    SERVICES,
    SecurePipeline,
    decided_once_and_announced,
)
from tests.support.relay import await_rule

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_every_process_runs_as_its_own_principal_over_sasl_ssl(
    secure_pipeline: SecurePipeline,
) -> None:
    principals = {
        service: secure_pipeline.stack.service_env(service)["SENTINEL_KAFKA_SASL_USERNAME"]
        for service in SERVICES
    }
    assert principals == {
        "api": "api",
        "agent-1": "agents",
        "sink": "sink",
        "webhooks": "dispatcher",
        "rules-relay": "rules-relay",
    }
    protocols = {
        secure_pipeline.stack.service_env(s)["SENTINEL_KAFKA_SECURITY_PROTOCOL"] for s in SERVICES
    }
    assert protocols == {"SASL_SSL"}


def test_a_transaction_is_decided_once_into_the_ledger_and_announced_once(
    secure_pipeline: SecurePipeline,
) -> None:
    decided_once_and_announced(secure_pipeline, transaction(amount="42.00"))


def test_authorize_answers_with_the_real_decision(secure_pipeline: SecurePipeline) -> None:
    response = httpx.post(
        f"{secure_pipeline.url}/v1/authorize",
        params={"deadline_ms": 2000},
        json=transaction(),
        headers=headers(secure_pipeline.ingest_key),
        timeout=10,
    )
    answer = response.json()
    assert response.status_code == 200 and answer["fallback"] is False, answer


def test_a_rule_through_the_api_reaches_the_topic_through_the_relays_principal(
    secure_pipeline: SecurePipeline,
) -> None:
    created = httpx.post(
        f"{secure_pipeline.url}/v1/rules",
        headers=secure_pipeline.admin,
        json={"name": "relayed", "action": "DECLINE", "expression": "amount > 1"},
        timeout=10,
    )
    assert created.status_code == 201, created.text  # committed; the API wrote no rules
    (record,) = await_rule(secure_pipeline.prefix, created.json()["rule_id"], 1)
    assert (record.name, record.version) == ("relayed", 1)
