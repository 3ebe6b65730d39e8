"""`sentinel replay` against a real agent's live decisions: the exact diff of a rule change.

A real agent worker decides a known range under two rules; the real ledger writer records
those decisions in a database of the test's own. The replay then runs the second half of
the range (by time, the first half only warming the features) with one rule changed, and
must name exactly the transactions whose outcome changes and why, read nothing but its
inputs and write nowhere but its own output topic.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from ledger_sink.writer import LedgerWriter
from schemas.codec import decode_decision, encode_label, encode_rule
from schemas.enums import Outcome, RuleMode
from schemas.records import Decision, Label, Rule, Transaction
from schemas.topics import LABELS, RULES, declared_topics
from tests.integration.ledger_sink.support import TABLES, counts
from tests.support.agents import (
    BOOTSTRAP,
    SENTINEL,
    Workers,
    produce,
    read_topic,
    transactions,
    wait_for_decisions,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Live: REVIEW above 60, and in Brazil. The candidate moves the first rule to 80. (REVIEW
# only: the decline breaker, whose window a replay starts afresh, never comes into play.)
LIVE_RULES = (("big", "amount > 60", "REVIEW", 10), ("br", 'country == "BR"', "REVIEW", 20))
CANDIDATE = {
    "rules": [
        {
            "rule_id": "big",
            "version": 2,
            "name": "big",
            "expression": "amount > 80",
            "action": "REVIEW",
            "priority": 10,
        }
    ]
}


def publish_rules(prefix: str) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for rule_id, expression, action, priority in LIVE_RULES:
        record = Rule(
            rule_id=rule_id,
            version=1,
            name=rule_id,
            description="",
            expression=expression,
            action=action,
            priority=priority,
            mode=RuleMode.ACTIVE,
            author="test",
            updated_at=datetime.now(UTC),
        )
        producer.produce(f"{prefix}{RULES.name}", encode_rule(record), rule_id.encode())
    assert producer.flush(10) == 0


def publish_labels(prefix: str, fraud: list[Transaction], good: list[Transaction]) -> None:
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for tx, is_fraud in [*((t, True) for t in fraud), *((t, False) for t in good)]:
        label = Label(
            transaction_id=tx.transaction_id,
            account_id=tx.account_id,
            merchant_id=tx.merchant_id,
            is_fraud=is_fraud,
            labelled_at=datetime.now(UTC),
            transaction_timestamp=tx.timestamp,
        )
        producer.produce(f"{prefix}{LABELS.name}", encode_label(label), tx.account_id.encode())
    assert producer.flush(10) == 0


def end_offsets(topics: list[str]) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "replay-test-offsets"})
    try:
        out = {}
        for topic in topics:
            parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            for p in parts:
                out[(topic, p)] = consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1]
        return out
    finally:
        consumer.close()


def test_replay_names_exactly_the_transactions_a_rule_change_flips(
    agents: tuple[str, Workers], ledger: str, tmp_path: Path
) -> None:
    prefix, workers = agents
    publish_rules(prefix)
    workers.start()
    txs = transactions(accounts=6, per_account=30, start=datetime.now(UTC) - timedelta(hours=1))
    first, second = txs[:90], txs[90:]
    produce(prefix, first)
    time.sleep(0.5)
    since = datetime.now(UTC)
    time.sleep(0.5)
    produce(prefix, second)
    live = {
        d.transaction_id: d for d in wait_for_decisions(prefix, {t.transaction_id for t in txs})
    }
    writer = LedgerWriter(ledger)
    writer.write(list(live.values()))
    writer.close()

    flipped = [t for t in second if 60 < t.amount <= 80 and t.country != "BR"]
    assert flipped, "the range must hold transactions the change affects"
    assert {live[t.transaction_id].outcome for t in flipped} == {Outcome.REVIEW}
    fraud = [t for t in flipped if t.account_id == "acct-0"] + [
        t for t in second if t.country == "BR"
    ]
    good = [t for t in second if t.amount <= 60 and t.country != "BR"][:5]
    publish_labels(prefix, fraud, good)

    candidate = tmp_path / "candidate.json"
    candidate.write_text(json.dumps(CANDIDATE))
    out_topic = f"{prefix}replay.decisions"
    live_topics = [s.name for s in declared_topics(prefix)]
    before_topics, before_rows = end_offsets(live_topics), counts(ledger)
    result = subprocess.run(
        [
            SENTINEL,
            "replay",
            "--from",
            since.isoformat(),
            "--rules",
            str(candidate),
            "--registry",
            str(tmp_path / "models"),
            "--out",
            str(tmp_path / "report"),
            "--to-topic",
            out_topic,
            "--workers",
            "2",
        ],  # fmt: skip
        env={
            **os.environ,
            "SENTINEL_KAFKA_TOPIC_PREFIX": prefix,
            "SENTINEL_POSTGRES_DSN": ledger,
            # Small batches: many ledger look-ups, each in flight while the next batch is
            # decided, and the report still exactly the one asserted below.
            "SENTINEL_REPLAY_BATCH_SIZE": "4",
            "SENTINEL_REPLAY_LOOKUP_BATCH": "7",
        },
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["totals"] == {
        "read": 180,
        "warmed": 90,
        "replayed": 90,
        "invalid": 0,
        "duplicates": 0,
        "forwarded_skipped": 0,
        "misplaced_rejected": 0,
        "in_ledger": 90,
        "missing_from_ledger": 0,
        "changed": len(flipped),
    }
    with (tmp_path / "report" / "changes.csv").open() as handle:
        changes = {row["transaction_id"]: row for row in csv.DictReader(handle)}
    assert set(changes) == {t.transaction_id for t in flipped}
    for row in changes.values():
        assert (row["live_outcome"], row["replay_outcome"]) == ("REVIEW", "APPROVE")
        assert (row["rules_removed"], row["rules_added"], row["replay_rules"]) == ("big", "", "")
        assert Decimal(row["amount"]) <= 80
        # Same model, same features: only the rule moved the outcome, not the score.
        assert float(row["replay_score"]) == pytest.approx(float(row["live_score"]))
        assert float(row["replay_score"]) < 0.5

    expected = _transitions(second, live)
    assert {(t["live"], t["replay"]): t["count"] for t in report["transitions"]} == expected
    rules = {r["rule_id"]: r for r in report["rules"]}
    assert rules["big"]["live_hits"] == sum(1 for t in second if t.amount > 60)
    assert rules["big"]["replay_hits"] == sum(1 for t in second if t.amount > 80)
    assert (
        rules["br"]["live_hits"]
        == rules["br"]["replay_hits"]
        == len([t for t in second if t.country == "BR"])
    )
    newly_missed = [t for t in flipped if t.account_id == "acct-0"]
    assert report["labels"]["fraud"] == len(fraud)
    assert report["labels"]["confirmed_good"] == len(good)
    assert report["labels"]["fraud_newly_missed"] == len(newly_missed)
    assert report["labels"]["fraud_newly_caught"] == 0
    assert report["labels"]["good_newly_declined"] == 0
    # Same model, same features (the warm-up rebuilt the first half's state): same scores.
    assert report["scores"]["live"] == report["scores"]["replay"]

    # Its own output topic holds the replayed decisions; nothing live moved.
    replayed = [decode_decision(m.value()) for m in read_topic(out_topic)]
    assert sorted(d.transaction_id for d in replayed) == sorted(t.transaction_id for t in second)
    assert {
        d.transaction_id for d in replayed if d.outcome is not live[d.transaction_id].outcome
    } == {t.transaction_id for t in flipped}
    assert end_offsets(live_topics) == before_topics
    assert counts(ledger) == before_rows
    assert set(before_rows) == set(TABLES)


def _transitions(
    second: list[Transaction], live: dict[str, Decision]
) -> dict[tuple[str, str], int]:
    """(live, replay) outcome pairs, the replay's computed from the candidate's rules."""
    out: dict[tuple[str, str], int] = {}
    for t in second:
        now = "REVIEW" if t.country == "BR" or t.amount > 80 else "APPROVE"
        key = (live[t.transaction_id].outcome.value, now)
        out[key] = out.get(key, 0) + 1
    return out
