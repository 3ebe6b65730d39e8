"""What the agents publish is what the ledger books (issue 18, items 8 and 9): a real agent
worker and the real sink on the real broker and database. A transaction in another currency
than its account's ledger is declined before anything goes out, so the decision, the
webhook event and the ledger agree; a reused transaction id with another body gets nothing
but a dead letter."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from ledger_sink.settings import SinkSettings
from schemas.codec import decode_dead_letter, decode_webhook_event
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.topics import DEAD_LETTER, WEBHOOKS
from tests.integration.ledger_sink.support import migrated_database, sink_thread, wait_until
from tests.support.agents import Workers, produce, read_topic, transactions, wait_for_decisions

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def booked(dsn: str) -> dict[str, tuple[str, Decimal, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT transaction_id, outcome, amount, currency FROM ledger_entries"
        ).fetchall()
    return {tid: (outcome, amount, currency.strip()) for tid, outcome, amount, currency in rows}


def test_the_decision_the_webhook_and_the_ledger_agree(agents: tuple[str, Workers]) -> None:
    prefix, workers = agents
    workers.start()
    first, later = transactions(accounts=1, per_account=2)
    foreign = replace(later, currency="USD", amount=Decimal("5.00"))
    reuse = replace(first, amount=first.amount + 1)  # same id, same account, other amount
    produce(prefix, [first, foreign, reuse])
    ids = {first.transaction_id, foreign.transaction_id}
    decisions = {d.transaction_id: d for d in wait_for_decisions(prefix, ids)}

    declined = decisions[foreign.transaction_id]
    assert declined.outcome.value == "DECLINE"
    assert declined.reason_codes[0].feature == "currency_mismatch"
    events = [decode_webhook_event(m.value()) for m in read_topic(f"{prefix}{WEBHOOKS.name}")]
    by_tx = {
        e.transaction_id: [x for x in events if x.transaction_id == e.transaction_id]
        for e in events
    }
    assert [e.event_type for e in by_tx[foreign.transaction_id]] == ["decision.declined"]
    # The reuse was decided nowhere: one decision, one event, for the first body only.
    assert len(by_tx[first.transaction_id]) == 1
    assert decisions[first.transaction_id].transaction.amount == first.amount

    with migrated_database() as dsn:
        settings = SinkSettings(
            group_id="sink",
            poll_timeout_s=0.1,
            stats_interval_ms=0,
            kafka=KafkaConnection(topic_prefix=prefix),
            postgres=PostgresConnection(dsn=dsn),
        )
        with sink_thread(settings):
            assert wait_until(lambda: ids <= set(booked(dsn)), 60)
        rows = booked(dsn)
    assert rows[foreign.transaction_id] == ("DECLINE", Decimal("0.0000"), "INR")
    assert rows[first.transaction_id][1] in {first.amount.quantize(Decimal("0.0001")), Decimal(0)}
    letters = [decode_dead_letter(m.value()) for m in read_topic(f"{prefix}{DEAD_LETTER.name}")]
    # Only the agent's letter for the reuse; the sink refused nothing (no currency_mismatch).
    assert [(x.error_code, x.source_topic) for x in letters] == [
        ("conflicting_duplicate", f"{prefix}transactions")
    ]
