"""What the agents publish is what the ledger books (issue 18, items 8 and 9): a real agent
worker and the real sink on the real broker and database. A transaction in another currency
than its account's ledger is declined before anything goes out, so the decision, the
webhook event and the ledger agree; a reused transaction id with another body gets nothing
but a dead letter, from another account too (the agents claim each id in the registry the
API shares)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from ledger_sink.settings import SinkSettings
from schemas.codec import decode_dead_letter, decode_decision, decode_webhook_event
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import Transaction
from schemas.topics import DEAD_LETTER, DECISIONS, WEBHOOKS
from tests.integration.ledger_sink.support import migrated_database, sink_thread, wait_until
from tests.support.agents import Workers, produce, read_topic, transactions, wait_for_decisions
from tests.support.ports import free_port

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


def sink_settings(prefix: str, dsn: str) -> SinkSettings:
    return SinkSettings(
        group_id="sink",
        poll_timeout_s=0.1,
        stats_interval_ms=0,
        kafka=KafkaConnection(topic_prefix=prefix),
        postgres=PostgresConnection(dsn=dsn),
    )


def outputs_of(prefix: str, tid: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """The accounts of ``tid``'s decisions and webhook events, and the test's dead letters
    (code, source topic without the prefix)."""
    decisions = [decode_decision(m.value()) for m in read_topic(f"{prefix}{DECISIONS.name}")]
    events = [decode_webhook_event(m.value()) for m in read_topic(f"{prefix}{WEBHOOKS.name}")]
    letters = [decode_dead_letter(m.value()) for m in read_topic(f"{prefix}{DEAD_LETTER.name}")]
    return (
        [d.account_id for d in decisions if d.transaction_id == tid],
        [e.account_id for e in events if e.transaction_id == tid],
        [(x.error_code, x.source_topic.removeprefix(prefix)) for x in letters],
    )


def reuse_by_another_account(first: Transaction) -> Transaction:
    """``first``'s id, another account's body: a gateway's reuse, produced straight to Kafka
    (the API's claim never saw it; the other account's state cannot know the id)."""
    return replace(first, account_id="acct-other", amount=first.amount + 7, merchant_id="m-9")


def test_a_reused_id_of_another_account_gets_a_dead_letter_and_nothing_else(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    workers.start()
    (first,) = transactions(accounts=1, per_account=1)
    tid = first.transaction_id
    produce(prefix, [first])
    wait_for_decisions(prefix, {tid})
    produce(prefix, [reuse_by_another_account(first)])
    # Settled: the reuse dead-lettered, or (without the claims) decided.
    assert wait_until(lambda: outputs_of(prefix, tid) != (["acct-0"], ["acct-0"], []), 60)

    decided, announced, letters = outputs_of(prefix, tid)
    assert decided == ["acct-0"]  # exactly one decision, the first body's
    assert announced == ["acct-0"]  # no webhook event for the reuse
    assert letters == [("conflicting_duplicate", "transactions")]  # the agent's
    with migrated_database() as dsn, sink_thread(sink_settings(prefix, dsn)):
        assert wait_until(lambda: tid in booked(dsn), 60)
        rows = booked(dsn)
    assert list(rows) == [tid]
    assert rows[tid][1] == first.amount.quantize(Decimal("0.0001"))
    # The sink had nothing to refuse: the agent's letter is the only one.
    assert outputs_of(prefix, tid)[2] == [("conflicting_duplicate", "transactions")]


def test_without_the_registry_the_agent_decides_as_before_and_the_sink_refuses_the_reuse(
    agents: tuple[str, Workers],
) -> None:
    prefix, workers = agents
    # Redis where nothing listens: the worker starts and decides all the same.
    workers.env["SENTINEL_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    workers.start()
    (first,) = transactions(accounts=1, per_account=1)
    tid = first.transaction_id
    produce(prefix, [first])
    wait_for_decisions(prefix, {tid})
    reuse = reuse_by_another_account(first)
    produce(prefix, [reuse])
    # Nothing lost, nothing stalled: both decided, as before the claims.
    assert wait_until(lambda: len(outputs_of(prefix, tid)[0]) == 2, 60)
    assert "transaction id registry unavailable" in workers.log_text(0)
    with migrated_database() as dsn, sink_thread(sink_settings(prefix, dsn)):
        refused = ("conflicting_duplicate", "decisions")  # the sink's letter
        assert wait_until(lambda: refused in outputs_of(prefix, tid)[2], 60)
        rows = booked(dsn)
    # One row: whichever decision the sink read first (their partitions are read in no
    # set order); the other refused.
    assert list(rows) == [tid]
    assert rows[tid][1] in {tx.amount.quantize(Decimal("0.0001")) for tx in (first, reuse)}
