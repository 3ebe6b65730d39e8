"""The ACL table (deploy/acls.py): least privilege, and every topic each service's code
touches reachable by its principal."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import ResourcePatternType

from decision_core.reference import topic_roles
from deploy.acls import ACCESS, PRINCIPALS, Grant, bindings, may, table
from deploy.local.pipeline import PRINCIPAL_OF, principal_of
from dlq.kafka import transactional_id
from ledger_sink.settings import SinkSettings
from ledger_sink.webhooks.settings import WebhookSettings
from schemas.connections import KafkaConnection
from schemas.stages import STAGES
from schemas.topics import RULES, declared_topics
from stream_agents.app import changelog_topic, group_id, input_topic, output_topics
from stream_agents.settings import AgentSettings

PREFIX = "test-abc."


def grants() -> list[Grant]:
    return table(PREFIX)


def test_only_the_rules_relay_writes_rules_and_writes_nothing_else() -> None:
    found = grants()
    assert not may(found, "api", "write", "topic", f"{PREFIX}{RULES.name}")
    writers = {p for p in ACCESS if may(found, p, "write", "topic", f"{PREFIX}{RULES.name}")}
    assert writers == {"rules-relay"}
    relay = [g for g in found if g.principal == "rules-relay"]
    assert [(g.resource, g.name, g.operation) for g in relay] == [
        ("topic", f"{PREFIX}{RULES.name}", "write")
    ]


def test_topics_carry_the_prefix_and_another_prefix_gets_nothing() -> None:
    found = grants()
    assert may(found, "api", "write", "topic", f"{PREFIX}transactions")
    assert not may(found, "api", "write", "topic", "transactions")
    assert not may(found, "api", "write", "topic", "test-other.transactions")


def test_the_agents_reach_every_topic_and_group_their_app_uses() -> None:
    settings = AgentSettings(kafka=KafkaConnection(topic_prefix=PREFIX))
    found = grants()
    assert may(found, "agents", "read", "topic", input_topic(settings))
    for topic in output_topics(settings).values():
        assert may(found, "agents", "write", "topic", topic)
    assert may(found, "agents", "read", "topic", changelog_topic(settings))
    for topic in topic_roles(PREFIX):
        assert may(found, "agents", "read", "topic", topic)
    assert may(found, "agents", "create", "topic", f"{PREFIX}sentinel-agents-__assignor-__leader")
    assert may(found, "agents", "read", "group", group_id(settings))


def test_the_sink_and_dispatcher_reach_their_settings_topics_and_groups() -> None:
    found = grants()
    kafka = KafkaConnection(topic_prefix=PREFIX)
    sink = SinkSettings(kafka=kafka)
    assert may(found, "sink", "read", "topic", sink.decisions_topic)
    assert may(found, "sink", "write", "topic", sink.dead_letter_topic)
    assert may(found, "sink", "read", "group", f"{sink.consumer_group}-1")
    hooks = WebhookSettings(kafka=kafka)
    for topic in (hooks.events_topic, hooks.retry_topic):
        assert may(found, "dispatcher", "read", "topic", topic)
    for topic in (hooks.retry_topic, hooks.dead_letter_topic, hooks.undecodable_topic):
        assert may(found, "dispatcher", "write", "topic", topic)
    for group in (hooks.group_id, hooks.retry_group_id):
        assert may(found, "dispatcher", "read", "group", f"{PREFIX}{group}")


def test_the_console_reads_every_stage_lag_and_redrives_in_a_transaction() -> None:
    found = grants()
    for group, topic in STAGES.values():
        assert may(found, "console", "describe", "group", f"{PREFIX}{group}")
        assert may(found, "console", "describe", "topic", f"{PREFIX}{topic}")
    tid = transactional_id(f"{PREFIX}dead-letter")
    assert may(found, "console", "write", "transactional_id", tid)
    assert may(found, "dlq", "write", "transactional_id", tid)
    assert not may(found, "api", "write", "transactional_id", tid)


def test_every_declared_topic_has_a_writer_and_a_reader() -> None:
    found = grants()
    for spec in declared_topics(PREFIX):
        assert any(may(found, p, "write", "topic", spec.name) for p in ACCESS), spec.name
        assert any(may(found, p, "read", "topic", spec.name) for p in ACCESS), spec.name


@pytest.mark.parametrize("service", [*PRINCIPAL_OF, "agent-1"])
def test_every_demo_service_is_a_principal_of_the_table(service: str) -> None:
    assert principal_of(service) in PRINCIPALS


def test_bindings_are_literal_topics_and_prefixed_groups() -> None:
    by_name = {b.name: b for b in bindings(table(PREFIX, ["sink"]))}
    assert by_name[f"{PREFIX}decisions"].resource_pattern_type == ResourcePatternType.LITERAL
    assert by_name[f"{PREFIX}ledger-sink"].resource_pattern_type == ResourcePatternType.PREFIXED
    assert by_name[f"{PREFIX}ledger-sink"].principal == "User:sink"
