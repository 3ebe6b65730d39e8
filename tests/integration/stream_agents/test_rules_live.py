"""Rules published to the compacted rules topic reach running agents with no restart."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Producer

from schemas.codec import decode_decision, encode_rule
from schemas.enums import Outcome, RuleMode
from schemas.records import Decision, Rule
from schemas.topics import DECISIONS, RULES
from tests.support.agents import (
    BOOTSTRAP,
    Workers,
    produce,
    read_topic,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def publish_rule(prefix: str, version: int, action: str, expression: str = "amount > 0") -> None:
    record = Rule(
        rule_id="r-all",
        version=version,
        name="everything",
        description="",
        expression=expression,
        action=action,
        priority=1,
        mode=RuleMode.ACTIVE,
        author="test",
        updated_at=datetime.now(UTC),
    )
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    producer.produce(f"{prefix}{RULES.name}", encode_rule(record), b"r-all")
    assert producer.flush(10) == 0


def test_rules_published_before_start_are_live_from_the_first_decision(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    publish_rule(prefix, 1, "DECLINE")
    workers.start()
    txs = transactions(accounts=3, per_account=2)
    produce(prefix, txs)
    decisions = wait_for_decisions(prefix, {t.transaction_id for t in txs})
    assert {d.outcome for d in decisions} == {Outcome.DECLINE}
    assert {(h.rule_id, h.version) for d in decisions for h in d.rules_fired} == {("r-all", 1)}


def test_a_rule_change_switches_live_decisions_at_one_point_with_its_version(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.start()
    # A minute apart: start 7 h back so that none of the 400 lies in the future (the agents
    # dead-letter an event time more than 300 s after its record's Kafka timestamp).
    start = datetime.now(UTC) - timedelta(hours=7)
    stream = iter(transactions(accounts=1, per_account=400, start=start))
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            produce(prefix, itertools.islice(stream, 5))
            time.sleep(0.05)

    feeder = threading.Thread(target=feed)
    feeder.start()
    time.sleep(2)
    publish_rule(prefix, 1, "DECLINE")
    time.sleep(2)
    publish_rule(prefix, 2, "REVIEW")
    time.sleep(2)
    stop.set()
    feeder.join()

    time.sleep(2)
    ordered = sorted(read_topic(f"{prefix}{DECISIONS.name}"), key=lambda m: m.offset())
    marks = [_mark(decode_decision(m.value())) for m in ordered]
    # One account, one partition: its decisions are in order. No rule, then v1, then v2.
    phases = [key for key, _group in itertools.groupby(marks)]
    assert phases == ["none", "r-all@1:DECLINE", "r-all@2:REVIEW"], phases


def _mark(decision: Decision) -> str:
    hits = decision.rules_fired
    if not hits:
        return "none"
    return f"{hits[0].rule_id}@{hits[0].version}:{decision.outcome.value}"


def test_the_circuit_breaker_degrades_a_runaway_decline_rule_to_review(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.env = {
        **workers.env,
        "SENTINEL_AGENTS_BREAKER_MAX_SHARE": "0.2",
        "SENTINEL_AGENTS_BREAKER_MIN_VOLUME": "20",
        "SENTINEL_AGENTS_BREAKER_WINDOW_EVENTS": "100",
    }
    publish_rule(prefix, 1, "DECLINE")  # declines everything: far above a 20 % share
    workers.start()
    txs = transactions(accounts=4, per_account=40)
    produce(prefix, txs)
    decisions = wait_for_decisions(prefix, {t.transaction_id for t in txs})
    actions = {h.action for d in decisions for h in d.rules_fired}
    outcomes = {d.outcome for d in decisions}
    assert actions == {"DECLINE", "DECLINE->REVIEW"}
    assert outcomes == {Outcome.DECLINE, Outcome.REVIEW}
    declined = sum(d.outcome is Outcome.DECLINE for d in decisions)
    assert declined < len(decisions) / 2
