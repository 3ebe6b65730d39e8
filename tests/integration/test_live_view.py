"""The live view against the real broker: rule names from the rules topic, new vs redelivered."""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer
from rich.console import Console

from deploy.local.view import LiveView
from schemas.codec import encode_decision, encode_rule
from schemas.connections import KafkaConnection
from schemas.enums import Outcome
from schemas.records import RuleHit
from schemas.topics import TopicSpec
from tests.unit.deploy.test_view import decision, rule

pytestmark = pytest.mark.integration

RULE_ID = "7edeb737-1d2c-4c61-9a44-0c8b3e2f5a10"


def test_the_view_names_rules_and_counts_redeliveries_apart(
    project_topics: dict[str, TopicSpec], kafka_connection: KafkaConnection
) -> None:
    prefix = project_topics["decisions"].name.removesuffix("decisions")
    kafka = KafkaConnection(
        bootstrap_servers=kafka_connection.bootstrap_servers, topic_prefix=prefix
    )
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "acks": "all"})
    producer.produce(
        project_topics["rules"].name,
        encode_rule(rule(RULE_ID, "Card testing")),
        RULE_ID.encode(),
    )
    producer.flush(10)
    out = io.StringIO()
    view = LiveView(kafka)
    watching = threading.Thread(target=view.run, args=(8.0, Console(file=out, width=160)))
    watching.start()
    time.sleep(3.0)  # the view reads the decisions topic from its end: let it get there
    hit = (RuleHit(rule_id=RULE_ID, version=1, action="DECLINE"),)
    now = datetime.now(UTC)
    fresh = [decision(n, Outcome.DECLINE, hit) for n in range(40)]
    fresh = [
        replace(d, ingested_at=now, decided_at=now + timedelta(milliseconds=12)) for d in fresh
    ]
    for d in fresh + fresh[:15]:  # 15 decided again, as after a worker's restart
        producer.produce(project_topics["decisions"].name, encode_decision(d), b"a")
    producer.flush(10)
    watching.join(30)
    printed = out.getvalue()
    last = printed.strip().splitlines()[-1]
    match = re.fullmatch(
        r"decisions/s (\S+) new/s (\S+) redeliveries/s (\S+) decisions (\d+) "
        r"new (\d+) APPROVE 0 REVIEW 0 DECLINE 40 .* seconds (\S+)",
        last,
    )
    assert match is not None, printed
    assert (match.group(4), match.group(5)) == ("55", "40")
    assert float(match.group(1)) == pytest.approx(55 / float(match.group(6)), abs=0.1)
    assert "Card testing" in printed and "7edeb737" not in printed
