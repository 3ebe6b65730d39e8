"""The sink against the real broker and a real database: exact rows, balances and chains;
redelivery is a no-op; bad records are dead-lettered and the stream goes on."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from ledger_sink.settings import SinkSettings
from ledger_sink.testing import decision, transaction
from ledger_sink.verify import verify_ledger
from schemas.codec import decode_dead_letter, encode_decision
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.pan import mask_pans_in_bytes
from schemas.records import Decision, Outcome, RuleHit, TxType
from schemas.topics import TopicSpec
from tests.integration.ledger_sink.support import (
    balances,
    counts,
    expected_balances,
    produce,
    read_all,
    sink_thread,
    wait_until,
)

pytestmark = pytest.mark.integration


ACCOUNTS = [f"acct-{n}" for n in range(7)]
HIT = RuleHit(rule_id="high-amount", version=3, action="REVIEW")
SHADOW = RuleHit(rule_id="new-country", version=1, action="DECLINE")


def stream(count: int, seed: int = 6) -> list[Decision]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        tx = transaction(
            rng.choice(ACCOUNTS),
            Decimal(rng.randint(1, 500_00)) / 100,
            tx_type=rng.choice([TxType.DEBIT, TxType.DEBIT, TxType.CREDIT, TxType.REFUND]),
            merchant_id=f"m-{n % 11}",
            city=rng.choice(["Paris", "Lyon", None]),
        )
        outcome = rng.choice([Outcome.APPROVE, Outcome.APPROVE, Outcome.REVIEW, Outcome.DECLINE])
        hits = (HIT,) if outcome is not Outcome.APPROVE else ()
        out.append(decision(tx, outcome, rules=hits, shadow_rules=(SHADOW,) if n % 5 == 0 else ()))
    return out


def settings(topics: dict[str, TopicSpec], dsn: str, group: str = "sink") -> SinkSettings:
    prefix = topics["decisions"].name.removesuffix("decisions")
    return SinkSettings(
        group_id=group,
        batch_size=40,
        poll_timeout_s=0.1,
        stats_interval_ms=0,
        kafka=KafkaConnection(topic_prefix=prefix),
        postgres=PostgresConnection(dsn=dsn),
    )


def keyed(decisions: list[Decision]) -> list[tuple[bytes, bytes]]:
    return [(d.account_id.encode(), encode_decision(d)) for d in decisions]


def test_decisions_become_exact_rows_balances_and_verifying_chains(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    decisions = stream(300)
    # Redeliveries: one right behind its original (same batch), one much later.
    records = keyed(decisions[:10] + decisions[9:10] + decisions[10:] + decisions[:3])
    produce(project_topics["decisions"].name, records)
    hits = sum(len(d.rules_fired) + len(d.shadow_rules_fired) for d in decisions)
    want = dict.fromkeys(("transactions", "decisions", "ledger_entries"), 300)
    want |= {"decision_rule_hits": hits, "analytics.fact_decisions": 300}

    with sink_thread(settings(project_topics, ledger_db)):
        assert wait_until(lambda: counts(ledger_db)["ledger_entries"] >= 300, 30)
    assert counts(ledger_db) == want | {"balances": len({d.account_id for d in decisions})}
    assert balances(ledger_db) == expected_balances(decisions)
    with psycopg.connect(ledger_db) as conn:
        report = verify_ledger(conn)
        assert (report.broken, report.entries, report.accounts) == (None, 300, len(ACCOUNTS))
        moved = conn.execute(
            "SELECT count(*) FROM ledger_entries WHERE amount > 0 AND outcome <> 'APPROVE'"
        ).fetchone()
        assert moved == (0,)

    # A whole redelivery (a new consumer group reads from the start) changes nothing.
    before = balances(ledger_db)
    with sink_thread(settings(project_topics, ledger_db, group="second")) as _:
        assert wait_until(lambda: _consumed_all(project_topics, "second", len(records)), 30)
    assert counts(ledger_db)["ledger_entries"] == 300
    assert balances(ledger_db) == before


def _consumed_all(topics: dict[str, TopicSpec], group: str, total: int) -> bool:
    from confluent_kafka import Consumer, TopicPartition

    prefix = topics["decisions"].name.removesuffix("decisions")
    topic = topics["decisions"].name
    consumer = Consumer(
        {"bootstrap.servers": KafkaConnection().bootstrap_servers, "group.id": f"{prefix}{group}"}
    )
    try:
        parts = [TopicPartition(topic, p) for p in range(topics["decisions"].partitions)]
        committed = consumer.committed(parts, timeout=10)
        return sum(max(tp.offset, 0) for tp in committed) >= total
    finally:
        consumer.close()


def test_bad_records_are_dead_lettered_and_the_stream_goes_on(
    project_topics: dict[str, TopicSpec], ledger_db: str
) -> None:
    good = stream(30, seed=7)
    eur = good[0]
    approved_usd = decision(transaction(eur.account_id, "5.00", currency="USD"))
    declined_usd = decision(transaction(eur.account_id, "5.00", currency="USD"), Outcome.DECLINE)
    pan = decision(replace(transaction("acct-pan", "1.00"), card_token="4111111111111111"))
    wrong_id = replace(decision(transaction("acct-x", "1.00")), decision_id=good[1].decision_id)
    bad_values = {
        "garbage": b"not avro at all",
        "pan": encode_decision(pan),
        "wrong_id": encode_decision(wrong_id),
        "approved_usd": encode_decision(approved_usd),
    }
    # Keyed by account like every decision, so each account's records keep their order.
    records = keyed(good[:15]) + [(eur.account_id.encode(), v) for v in bad_values.values()]
    records += keyed([declined_usd, *good[15:]])
    produce(project_topics["decisions"].name, records)

    with sink_thread(settings(project_topics, ledger_db)):
        assert wait_until(lambda: counts(ledger_db)["ledger_entries"] >= 31, 30)
        letters = wait_until(lambda: len(read_all(project_topics["dead-letter"].name)) >= 4, 20)
    assert letters
    assert counts(ledger_db)["decisions"] == 31
    assert balances(ledger_db) == expected_balances([*good, declined_usd])

    dead = [decode_dead_letter(r.value) for r in read_all(project_topics["dead-letter"].name)]
    # Byte for byte as produced, card numbers masked in place (schemas.codec).
    found = {letter.value: letter for letter in dead}
    bad_values = {name: mask_pans_in_bytes(value) for name, value in bad_values.items()}
    assert len(dead) == 4
    assert {name: found[value].error_code for name, value in bad_values.items()} == {
        "garbage": "malformed_message",
        "pan": "constraint_violation",
        "wrong_id": "inconsistent_decision",
        "approved_usd": "currency_mismatch",
    }
    for letter in dead:
        assert letter.source_topic == project_topics["decisions"].name
        assert letter.key == eur.account_id.encode()
    assert "transactions_card_token_check" in found[bad_values["pan"]].error_message
    assert "4111111111111111" not in found[bad_values["pan"]].error_message  # never in clear
