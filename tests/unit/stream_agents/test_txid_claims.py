"""The agents' transaction id claims without a registry (issue 18, item 8): an unavailable
Redis degrades a batch to deciding unchecked, counted, logged once per interval, and is not
asked again for a while."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from schemas.records import Transaction
from stream_agents.txid_claims import LOG_EVERY_S, RETRY_S, Outage, TransactionIdClaims
from tests.support.clocks import ManualClock
from tests.support.ports import free_port
from tests.support.records import transaction


def tx(n: int) -> Transaction:
    return transaction(transaction_id=f"t-{n}")


def unchecked() -> float:
    return REGISTRY.get_sample_value("sentinel_agent_txid_unchecked_total") or 0.0


def test_an_outage_is_retried_after_an_interval_and_reported_once_per_interval() -> None:
    clock = ManualClock(1000.0)
    outage = Outage(clock, retry_s=5, log_every_s=60)
    assert outage.may_ask()
    first = outage.failed(10)
    assert first is not None and "10 transactions" in first
    assert not outage.may_ask()
    clock.now += 4
    assert outage.failed(3) is None  # within the interval: counted, not logged
    clock.now += 1
    assert outage.may_ask()
    assert outage.failed(2) is None
    assert not outage.may_ask()  # failed again: another retry interval
    clock.now += 60
    later = outage.failed(1)
    assert later is not None and "65 s" in later and "6 transactions" in later
    note = outage.recovered()
    assert note is not None and "back after 65 s" in note
    assert outage.recovered() is None and outage.may_ask()


async def test_an_unreachable_registry_decides_the_batch_unchecked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock(1000.0)
    claims = TransactionIdClaims.connect(f"redis://127.0.0.1:{free_port()}/0", 900, 0.25)
    claims.outage.clock = clock
    before = unchecked()
    with caplog.at_level(logging.WARNING, "stream_agents.txid_claims"):
        assert await claims.reused([tx(1), tx(2)]) == []  # none refused: decided as before
        clock.now += RETRY_S / 2
        assert await claims.reused([tx(3)]) == []  # not asked: no timeout paid again
        clock.now += LOG_EVERY_S
        assert await claims.reused([tx(4)]) == []
    await claims.close()
    assert unchecked() - before == 4
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2  # once per interval, not once per batch
    assert "2 transactions decided without the cross-account id check" in warnings[0]
    assert "2 transactions" in warnings[1]


async def test_a_window_of_zero_claims_nothing() -> None:
    claims = TransactionIdClaims.connect(f"redis://127.0.0.1:{free_port()}/0", 0, 0.25)
    before = unchecked()
    assert await claims.reused([tx(1)]) == []
    assert unchecked() == before  # off, not unavailable
    await claims.close()
