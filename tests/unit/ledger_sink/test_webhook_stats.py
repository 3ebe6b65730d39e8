"""Delivery statistics per subscription and minute: counting, merging a failed flush back,
the bound on memory, the upsert's shape; and the dispatcher counting what it does."""

from __future__ import annotations

import httpx
import pytest

from ledger_sink.webhooks.stats import Counts, DeliveryStats, parameters, upsert_statement
from schemas.webhook_stats import BUCKETS, LATENCY_BOUNDS_MS, bucket, failure_class, quantile
from tests.support.clocks import ManualClock
from tests.unit.ledger_sink.test_webhook_dispatcher import NOW, SUBSCRIPTION, delivery, dispatcher

SUB = "6f1c1a7e-0000-4000-8000-000000000001"


def test_attempts_are_counted_per_subscription_and_minute() -> None:
    clock = ManualClock(600.0)
    stats = DeliveryStats(clock)
    stats.attempted(SUB, 200, True, 0.004)
    stats.attempted(SUB, 503, False, 0.120)
    clock.now = 659.9
    stats.attempted(SUB, None, False, 10.0)
    clock.now = 660.0  # the next minute
    stats.attempted(SUB, 404, False, 0.030)
    stats.retries_scheduled(SUB, 2)
    stats.dead_lettered(SUB)
    taken = stats.take()
    first, second = taken[(SUB, 600)], taken[(SUB, 660)]
    assert (first.deliveries, first.successes, first.failed_5xx) == (3, 1, 1)
    assert (first.failed_no_response, first.failed_4xx) == (1, 0)
    assert first.latency_count == 3 and first.latency_ms_sum == pytest.approx(10_124)
    assert first.latency_buckets[0] == 1 and first.latency_buckets[bucket(120)] == 1
    assert first.latency_buckets[bucket(10_000)] == 1
    assert (first.last_status, first.last_attempt_at) == (None, 659.9)
    assert (second.failed_4xx, second.retries_scheduled, second.dead_lettered) == (1, 2, 1)
    assert stats.take() == {}


def test_a_failed_flush_is_merged_back_and_the_oldest_minutes_dropped_beyond_the_bound() -> None:
    clock = ManualClock(0.0)
    stats = DeliveryStats(clock, max_rows=2)
    stats.attempted(SUB, 200, True, 0.01)
    failed = stats.take()
    stats.attempted(SUB, 500, False, 0.02)  # same minute, counted while the flush failed
    assert stats.restore(failed) == 0
    (row,) = stats.take().values()
    assert (row.deliveries, row.successes, row.failed_5xx, row.last_status) == (2, 1, 1, 500)
    for minute in range(3):
        clock.now = minute * 60.0
        stats.retries_taken(SUB)
    assert stats.restore({}) == 1
    assert sorted(m for _s, m in stats.take()) == [60, 120]


def test_the_later_attempt_wins_the_last_status_whatever_the_merge_order() -> None:
    early, late = Counts(last_status=503, last_attempt_at=10.0), Counts(last_status=200)
    late.last_attempt_at = 20.0
    early.add(late)
    assert early.last_status == 200
    late.add(Counts(last_status=404, last_attempt_at=15.0))
    assert late.last_status == 200
    late.add(Counts())  # no attempt: keeps the status
    assert late.last_status == 200


def test_the_upsert_is_one_statement_with_every_row_in_key_order() -> None:
    taken = {("b", 60): Counts(deliveries=1), ("a", 120): Counts(), ("a", 60): Counts()}
    values = parameters(taken)
    width = len(values) // 3
    assert [values[i * width] for i in range(3)] == ["a", "a", "b"]
    assert values[1].timestamp() == 60 and values[width + 1].timestamp() == 120
    text = upsert_statement(3).as_string(None)
    assert text.count("INSERT") == 1 and text.count("(%s,") == 3
    assert '"deliveries" = t."deliveries" + excluded."deliveries"' in text


@pytest.mark.parametrize(
    ("status", "kind"),
    [(None, "no_response"), (400, "4xx"), (429, "4xx"), (500, "5xx"), (302, "other")],
)
def test_failure_classes(status: int | None, kind: str) -> None:
    assert failure_class(status) == kind


def test_quantiles_interpolate_inside_their_bucket() -> None:
    histogram = [0] * BUCKETS
    assert quantile(histogram, 0.5) is None
    histogram[bucket(7)] = 10  # all in (5, 10] ms
    assert quantile(histogram, 0.5) == pytest.approx(7.5)
    assert quantile(histogram, 1.0) == pytest.approx(10)
    histogram[bucket(300)] = 10  # half in (250, 500]
    assert quantile(histogram, 0.5) == pytest.approx(10)
    assert quantile(histogram, 0.95) == pytest.approx(250 + 250 * 0.9)
    slow = [0] * BUCKETS
    slow[-1] = 3  # past the last bound: that bound is all that is known
    assert quantile(slow, 0.95) == LATENCY_BOUNDS_MS[-1]
    with pytest.raises(ValueError):
        quantile(histogram, 0)


async def test_the_dispatcher_counts_attempts_retries_and_dead_letters() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([500, 200], seen)
    assert await subject.deliver(delivery()) == "failed"
    assert await subject.deliver(delivery(2)) == "delivered"
    assert await subject.deliver(delivery(3)) == "delivered"
    (row,) = subject.stats.take().values()
    assert (row.deliveries, row.successes, row.failed_5xx) == (3, 2, 1)
    assert (row.retries_scheduled, row.last_status, row.last_attempt_at) == (1, 200, NOW)
    assert row.latency_count == 3 and len(outbox.retries) == 1
    failing, outbox = dispatcher([500], [], max_attempts=1)
    assert await failing.deliver(delivery()) == "failed"
    ((sub_id, _minute), row), *_ = failing.stats.take().items()
    assert sub_id == SUBSCRIPTION.subscription_id
    assert (row.dead_lettered, row.retries_scheduled, len(outbox.letters)) == (1, 0, 1)


async def test_parked_deliveries_count_as_retries_scheduled_without_an_attempt() -> None:
    subject, outbox = dispatcher([500, 500], [], breaker_failures=2)
    for _ in range(2):
        await subject.deliver(delivery())
    stored = await subject.deliver_all([delivery(), delivery()])
    assert stored is not None
    await stored
    (row,) = subject.stats.take().values()
    assert (row.deliveries, row.failed_5xx) == (2, 2)
    assert row.retries_scheduled == 2 + 2  # two retry records, two parked entries
    assert sum(len(entries) for _s, entries, _d in outbox.parked) == 2
