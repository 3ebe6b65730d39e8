"""The batch writer against a real database: two writers at once keep every chain intact,
overlapping batches (a rebalance) write nothing twice, and the star schema is filled."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Sequence
from decimal import Decimal

import psycopg
import pytest

from ledger_sink.testing import decision, transaction
from ledger_sink.verify import verify_ledger
from ledger_sink.writer import LedgerWriter
from schemas.records import Decision, Outcome, TxType
from tests.integration.ledger_sink.support import (
    SENTINEL,
    balances,
    counts,
    expected_balances,
)

pytestmark = pytest.mark.integration


def decisions(count: int, accounts: int, offset: int = 0) -> list[Decision]:
    return [
        decision(
            transaction(f"acct-{n % accounts}", f"{n % 97 + 1}.25", merchant_id=f"m-{n % 5}"),
            Outcome.APPROVE if n % 4 else Outcome.DECLINE,
        )
        for n in range(offset, offset + count)
    ]


def write_all(dsn: str, batches: Sequence[list[Decision]], failures: list[BaseException]) -> None:
    writer = LedgerWriter(dsn)
    try:
        for batch in batches:
            while True:
                try:
                    writer.write(batch)
                    break
                except psycopg.errors.DeadlockDetected:
                    continue  # the sink retries these like any transient error
    except BaseException as exc:
        failures.append(exc)
    finally:
        writer.close()


def test_two_writers_on_the_same_accounts_keep_every_chain_whole(ledger_db: str) -> None:
    first, second = decisions(400, 5), decisions(400, 5, offset=400)
    # The two also share a slice, as two sinks do around a rebalance.
    shared = first[150:200]
    plans = [
        [first[i : i + 50] for i in range(0, 400, 50)],
        [second[i : i + 50] for i in range(0, 400, 50)] + [shared],
    ]
    failures: list[BaseException] = []
    threads = [threading.Thread(target=write_all, args=(ledger_db, p, failures)) for p in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert counts(ledger_db)["ledger_entries"] == 800
    assert balances(ledger_db) == expected_balances(first + second)
    with psycopg.connect(ledger_db) as conn:
        assert verify_ledger(conn).broken is None


def test_a_redelivered_batch_and_a_repeat_inside_a_batch_are_no_ops(ledger_db: str) -> None:
    writer = LedgerWriter(ledger_db)
    batch = decisions(20, 3)
    try:
        result = writer.write([*batch, batch[4], batch[0]])
        again = writer.write(batch)
    finally:
        writer.close()
    assert (result.written, result.duplicates) == (20, 2)
    assert (again.written, again.duplicates) == (0, 20)
    assert counts(ledger_db)["ledger_entries"] == 20


def test_entries_balances_and_facts_hold_the_exact_values(ledger_db: str) -> None:
    debit = decision(transaction("acct-a", "100.10", city=None))
    refund = decision(transaction("acct-a", "0.35", tx_type=TxType.REFUND, merchant_id="m-2"))
    review = decision(transaction("acct-a", "999.99"), Outcome.REVIEW)
    writer = LedgerWriter(ledger_db)
    try:
        writer.write([debit, refund, review])
    finally:
        writer.close()
    with psycopg.connect(ledger_db) as conn:
        entries = conn.execute(
            "SELECT seq, outcome, amount, direction, balance_after, prev_hash IS NULL"
            " FROM ledger_entries ORDER BY seq"
        ).fetchall()
        assert entries == [
            (1, "APPROVE", Decimal("100.1000"), "debit", Decimal("-100.1000"), True),
            (2, "APPROVE", Decimal("0.3500"), "credit", Decimal("-99.7500"), False),
            (3, "REVIEW", Decimal("0.0000"), "debit", Decimal("-99.7500"), False),
        ]
        assert conn.execute("SELECT balance, currency FROM balances").fetchall() == [
            (Decimal("-99.7500"), "EUR")
        ]
        facts = conn.execute(
            "SELECT f.outcome, f.amount, f.latency_ms, t.hour, t.minute, d.year, c.channel,"
            " l.city, m.merchant_id FROM analytics.fact_decisions f"
            " JOIN analytics.dim_time t USING (time_key) JOIN analytics.dim_date d USING (date_key)"
            " JOIN analytics.dim_channel c USING (channel_key)"
            " JOIN analytics.dim_location l USING (location_key)"
            " JOIN analytics.dim_merchant m USING (merchant_key) ORDER BY f.amount"
        ).fetchall()
        assert facts == [
            ("APPROVE", Decimal("0.3500"), 12, 9, 30, 2026, "POS", "Paris", "m-2"),
            ("APPROVE", Decimal("100.1000"), 12, 9, 30, 2026, "POS", None, "m-1"),
            ("REVIEW", Decimal("999.9900"), 12, 9, 30, 2026, "POS", "Paris", "m-1"),
        ]


# The largest amount the API and the agents accept in EUR: 14 integer digits, 2 decimals.
MAXIMAL_EUR = Decimal("99999999999999.99")


def test_150_maximal_credits_on_one_account_book_and_verify(ledger_db: str) -> None:
    # numeric(20, 4) held 16 integer digits: the 101st such credit overflowed (SQLSTATE 22003).
    credits = [
        decision(transaction("acct-rich", MAXIMAL_EUR, tx_type=TxType.CREDIT)) for _ in range(150)
    ]
    writer = LedgerWriter(ledger_db)
    try:
        for start in range(0, 150, 50):
            assert writer.write(credits[start : start + 50]).written == 50
    finally:
        writer.close()
    total = (150 * MAXIMAL_EUR).quantize(Decimal("0.0001"))
    assert total == Decimal("14999999999999998.5000")
    assert balances(ledger_db) == {"acct-rich": total}
    with psycopg.connect(ledger_db) as conn:
        assert conn.execute("SELECT max(balance_after) FROM ledger_entries").fetchone() == (total,)
    env = {**os.environ, "SENTINEL_POSTGRES_DSN": ledger_db, "COLUMNS": "250"}
    done = subprocess.run(
        [SENTINEL, "ledger", "verify"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "every chain holds" in done.stdout
