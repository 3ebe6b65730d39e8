"""One delivery's fate — delivered, retried later, dead-lettered, skipped by an open
circuit — with httpx's in-memory transport standing in for the subscriber."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import httpx

from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import signing
from ledger_sink.webhooks.delivery import NO_RESPONSE
from ledger_sink.webhooks.dispatcher import EXHAUSTED, Delivery, Dispatcher
from ledger_sink.webhooks.parking import Entry
from ledger_sink.webhooks.retry_records import Ticket
from ledger_sink.webhooks.settings import WebhookSettings
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.codec import encode_webhook_event
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter

SECRET = "whsec_0123456789abcdef"
NOW = 1_764_460_800.0
SUBSCRIPTION = Subscription(
    "6f1c1a7e-0000-4000-8000-000000000001",
    "http://receiver.test/hook",
    SECRET,
    ["*"],
    True,
    datetime(2026, 11, 30, tzinfo=UTC),
)


class Outbox:
    """Records what the dispatcher would write to Kafka: one entry per record."""

    def __init__(self) -> None:
        self.retries: list[Ticket] = []
        self.letters: list[DeadLetter] = []
        self.parked: list[tuple[str, list[Entry], int]] = []

    async def retry(self, delivery: Delivery, ticket: Ticket) -> None:
        self.retries.append(ticket)

    async def park(self, subscription_id: str, entries: list[Entry], due_ms: int) -> None:
        self.parked.append((subscription_id, entries, due_ms))

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


def delivery(attempt: int = 1) -> Delivery:
    event = webhook_event(decision(transaction("a")))
    record = RawRecord("t.webhooks", 2, 40, b"a", encode_webhook_event(event))
    return Delivery(record, event, SUBSCRIPTION, attempt)


def dispatcher(
    statuses: list[int], seen: list[httpx.Request], **changes: object
) -> tuple[Dispatcher, Outbox]:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses.pop(0) if statuses else 200)

    settings = WebhookSettings(
        **({"max_attempts": 3, "breaker_failures": 2, "park_flush_s": 0.01} | changes)
    )  # type: ignore[arg-type]
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    outbox = Outbox()
    return Dispatcher(settings, client, outbox, clock=lambda: 0.0, wall=lambda: NOW), outbox


async def test_a_2xx_is_delivered_signed() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([204], seen)
    item = delivery()
    assert await subject.deliver(item) == "delivered"
    (request,) = seen
    assert request.content == item.event.payload_json.encode()
    assert request.headers[signing.EVENT_ID] == item.event.event_id
    assert request.headers[signing.EVENT_TYPE] == item.event.event_type
    assert signing.verify_headers(SECRET, request.headers, request.content, NOW)
    assert outbox.retries == [] and outbox.letters == []


async def test_a_failure_schedules_the_next_attempt_with_backoff() -> None:
    subject, outbox = dispatcher([503], [], backoff_base_s=2.0)
    assert await subject.deliver(delivery(attempt=2)) == "failed"
    (ticket,) = outbox.retries
    assert (ticket.attempt, ticket.last_error, ticket.subscription_id) == (
        3,
        "HTTP 503",
        SUBSCRIPTION.subscription_id,
    )
    # After failed attempt 2: between half and all of 2 * 2**1 seconds from now.
    assert NOW + 2.0 <= ticket.due_ms / 1000 <= NOW + 4.0


async def test_the_last_failed_attempt_is_dead_lettered_with_the_event_bytes() -> None:
    subject, outbox = dispatcher([500], [])
    item = delivery(attempt=3)
    assert await subject.deliver(item) == "failed"
    (letter,) = outbox.letters
    assert letter.error_code == EXHAUSTED and letter.value == item.event_bytes
    assert (letter.source_topic, letter.partition, letter.offset) == ("t.webhooks", 2, 40)
    assert letter.headers["sentinel-attempts"] == "3"
    assert outbox.retries == []


async def test_an_open_circuit_parks_without_a_request_or_a_counted_attempt() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([500, 500], seen, breaker_cooldown_s=30.0)
    assert [await subject.deliver(delivery()) for _ in range(3)] == ["failed", "failed", "parked"]
    assert len(seen) == 2 and len(outbox.retries) == 2
    ((sub_id, entries, due_ms),) = outbox.parked
    assert sub_id == SUBSCRIPTION.subscription_id and [e.attempt for e in entries] == [1]
    assert due_ms == int((NOW + 30.0) * 1000)  # back when the circuit lets a probe through


async def test_a_dead_subscribers_events_are_parked_in_one_record_per_flush() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([500, 500], seen)
    await subject.deliver(delivery())
    await subject.deliver(delivery())  # the circuit is open now
    results = await asyncio.gather(*(subject.deliver(delivery()) for _ in range(500)))
    assert set(results) == {"parked"} and len(seen) == 2  # no connect attempt per event
    (parked,) = outbox.parked  # one retry record, not 500
    assert len(parked[1]) == 500


async def test_a_slow_subscriber_parks_what_waits_too_long_and_never_holds_another() -> None:
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "stuck.test":
            await release.wait()  # a receiver that never answers (until the test ends)
        return httpx.Response(204)

    settings = WebhookSettings(per_subscriber_concurrency=2, slot_wait_s=0.05, park_flush_s=0.01)
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    outbox = Outbox()
    subject = Dispatcher(settings, client, outbox, clock=lambda: 0.0, wall=lambda: NOW)
    stuck = dataclasses.replace(SUBSCRIPTION, subscription_id="stuck", url="http://stuck.test/")
    stuck_tasks = [
        asyncio.create_task(subject.deliver(dataclasses.replace(delivery(), subscription=stuck)))
        for _ in range(20)
    ]
    async with asyncio.timeout(2):
        # 2 in flight; the other 18 are parked after the short wait, not queued for good.
        done, _ = await asyncio.wait(stuck_tasks, timeout=1)
        assert len(done) == 18 and {t.result() for t in done} == {"parked"}
        ((_sub, entries, due_ms),) = outbox.parked  # in one record
        assert len(entries) == 18 and due_ms == int((NOW + 10.0) * 1000)
        # Meanwhile another subscriber is served at once, a burst of it too.
        many = await asyncio.gather(*(subject.deliver(delivery()) for _ in range(50)))
        assert set(many) == {"delivered"}
    release.set()
    assert set(await asyncio.gather(*stuck_tasks)) == {"parked", "delivered"}


async def test_a_subscriber_that_answers_keeps_its_queue_in_line() -> None:
    async def answer(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)  # it answers, one at a time, slower than its queue grows
        return httpx.Response(204)

    settings = WebhookSettings(per_subscriber_concurrency=1, slot_wait_s=0.05)
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    outbox = Outbox()
    subject = Dispatcher(settings, client, outbox, clock=lambda: 0.0, wall=lambda: NOW)
    async with asyncio.timeout(5):
        # The last of 20 waits ~0.4 s for the one slot, far past the slot wait; yet the
        # subscriber is answering, so none is parked for a request timeout.
        results = await asyncio.gather(*(subject.deliver(delivery()) for _ in range(20)))
    assert results == ["delivered"] * 20 and outbox.parked == []


def parked_batch(attempts: list[int]) -> list[Delivery]:
    return [dataclasses.replace(delivery(), attempt=n) for n in attempts]


async def test_a_parked_batch_due_while_the_circuit_is_open_goes_back_as_one_record() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([500, 500], seen, breaker_cooldown_s=30.0, max_attempts=3)
    await subject.deliver(delivery())
    await subject.deliver(delivery())  # open
    await subject.deliver_parked(parked_batch([1, 2, 3, 1]))
    assert len(seen) == 2
    ((_sub, entries, _due),) = outbox.parked
    assert [e.attempt for e in entries] == [2, 3, 2]  # an attempt counted each
    (letter,) = outbox.letters  # the one at its last attempt
    assert letter.error_code == EXHAUSTED and letter.headers["sentinel-attempts"] == "3"


async def test_parked_batches_due_together_go_back_as_one_record() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([500, 500], seen, breaker_cooldown_s=30.0, park_flush_s=3600.0)
    await subject.deliver(delivery())
    await subject.deliver(delivery())  # open
    entries = [Entry(1, delivery().event_bytes) for _ in range(5)]
    # Thirty batches parked while the circuit was open all come due at its cool-down's end.
    results = [subject.park_again(SUBSCRIPTION.subscription_id, entries, 30.0) for _ in range(30)]
    assert {id(stored) for stored, _spent in results} == {id(results[0][0])}  # one store
    subject.parking.flush()
    await asyncio.shield(results[0][0])  # type: ignore[arg-type]
    ((_sub, again, _due),) = outbox.parked  # one record, not thirty
    assert len(again) == 150 and {e.attempt for e in again} == {2}


class SlowFirstStore(Outbox):
    """The first parked batch's store waits for `release`."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def park(self, subscription_id: str, entries: list[Entry], due_ms: int) -> None:
        await super().park(subscription_id, entries, due_ms)
        if len(self.parked) == 1:
            await self.release.wait()


async def test_parked_again_past_a_full_batch_waits_for_every_flush() -> None:
    settings = WebhookSettings(park_flush_s=3600.0, park_batch_bytes=1024)
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(204)))
    outbox = SlowFirstStore()
    subject = Dispatcher(settings, client, outbox, clock=lambda: 0.0, wall=lambda: NOW)
    entries = [Entry(1, b"e" * 2048) for _ in range(3)]
    # Each entry fills a batch on its own: three flushes, each its own store.
    stored, _spent = subject.park_again(SUBSCRIPTION.subscription_id, entries, 30.0)
    assert stored is not None
    await asyncio.sleep(0.05)
    assert len(outbox.parked) == 3 and not stored.done()  # the first store is still under way
    outbox.release.set()
    async with asyncio.timeout(2):
        await asyncio.shield(stored)


async def test_a_parked_batch_is_delivered_once_the_subscriber_answers() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([], seen)
    await subject.deliver_parked(parked_batch([2] * 30))
    assert len(seen) == 30 and outbox.parked == [] and outbox.retries == []


async def test_a_connection_error_is_a_failure_not_a_crash() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    settings = WebhookSettings()
    outbox = Outbox()
    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    subject = Dispatcher(settings, client, outbox, wall=lambda: NOW)
    assert await subject.deliver(delivery()) == "failed"
    # Generic: "refused" here and "timed out" there would map a network's open ports.
    assert outbox.retries[0].last_error == NO_RESPONSE


async def test_an_event_reaches_the_live_subscriber_while_dead_ones_are_parked() -> None:
    seen: list[httpx.Request] = []
    # A flush far away: the live deliveries must not wait for the dead ones' batches.
    subject, outbox = dispatcher([], seen, breaker_cooldown_s=30.0, park_flush_s=3600.0)
    dead = [
        dataclasses.replace(SUBSCRIPTION, subscription_id=f"dead-{n}", url=f"http://d{n}.test/")
        for n in range(10)
    ]
    for sub in dead:  # every dead subscriber's circuit open
        for _ in range(2):
            subject.breaker(sub.subscription_id).failed(0.0)
    items = [delivery() for _ in range(100)]
    async with asyncio.timeout(5):
        stored = await asyncio.gather(  # concurrently, as the events pump runs them
            *(
                subject.deliver_all([dataclasses.replace(i, subscription=s) for s in dead] + [i])
                for i in items
            )
        )
    # Every event is with the live subscriber before any parked batch is stored...
    assert len(seen) == 100 and {r.url.host for r in seen} == {"receiver.test"}
    assert outbox.parked == []
    # ...and each event waits on one store (its flush), not one per dead subscriber.
    (flush,) = {id(f): f for f in stored if f is not None}.values()
    assert all(f is flush for f in stored)
    subject.parking.flush()
    async with asyncio.timeout(5):
        await flush
    assert sorted(sub for sub, _e, _d in outbox.parked) == sorted(s.subscription_id for s in dead)
    assert all(len(entries) == 100 for _s, entries, _d in outbox.parked)  # one record each
