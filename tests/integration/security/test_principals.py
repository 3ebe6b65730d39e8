"""Principals and ACLs on the stack's SASL_SSL listener: a principal refused where its ACLs
say so, a wrong password refused with a clear error, a principal using its own topics."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from schemas.connections import KafkaConnection
from schemas.kafka_edge import client_config
from tests.support.security import SecureStack

pytestmark = pytest.mark.integration


def produce(kafka: KafkaConnection, topic: str) -> tuple[KafkaError | None, list[KafkaError]]:
    """One record's delivery error (None: delivered) and the client's own errors."""
    errors: list[KafkaError] = []
    delivered: list[KafkaError | None] = []
    producer = Producer(
        {**client_config(kafka), "error_cb": errors.append, "message.timeout.ms": 10_000}
    )
    producer.produce(
        f"{kafka.topic_prefix}{topic}",
        b"value",
        b"key",
        on_delivery=lambda e, _m: delivered.append(e),
    )
    producer.flush(30)
    return delivered[0], errors


def test_the_api_principal_cannot_write_rules(secure_stack: SecureStack) -> None:
    error, _ = produce(secure_stack.connection("api"), "rules")
    assert error is not None
    assert error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_only_the_rules_relay_writes_rules(secure_stack: SecureStack) -> None:
    refused, _ = produce(secure_stack.connection("console"), "rules")
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    relayed, _ = produce(secure_stack.connection("rules-relay"), "rules")
    assert relayed is None


def test_a_wrong_password_is_refused_with_a_clear_error(secure_stack: SecureStack) -> None:
    error, client_errors = produce(secure_stack.connection("api", password="wrong"), "transactions")
    assert error is not None  # never delivered
    refused = [e for e in client_errors if e.code() == KafkaError._AUTHENTICATION]
    assert refused, client_errors
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in refused[0].str()


def test_a_principal_produces_and_consumes_its_own_topics(secure_stack: SecureStack) -> None:
    error, _ = produce(secure_stack.connection("gateway"), "transactions")
    assert error is None
    agents = secure_stack.connection("agents")
    consumer = Consumer(
        {
            **client_config(agents),
            "group.id": f"{agents.topic_prefix}sentinel-agents-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([f"{agents.topic_prefix}transactions"])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None:
                break
        assert message is not None and message.error() is None, message and message.error()
        assert message.value() == b"value"
    finally:
        consumer.close()


def test_the_api_principal_cannot_read_the_agents_group(secure_stack: SecureStack) -> None:
    api = secure_stack.connection("api")
    consumer = Consumer({**client_config(api), "group.id": f"{api.topic_prefix}sentinel-agents"})
    consumer.subscribe([f"{api.topic_prefix}decisions"])
    try:
        found = None
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is not None and message.error() is not None:
                found = message.error()
                break
        assert found is not None
        assert found.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        consumer.close()
