"""One delivery's fate — delivered, retried later, dead-lettered, skipped by an open
circuit — with httpx's in-memory transport standing in for the subscriber."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from ledger_sink.raw import RawRecord
from ledger_sink.testing import decision, transaction, webhook_event
from ledger_sink.webhooks import signing
from ledger_sink.webhooks.delivery import NO_RESPONSE
from ledger_sink.webhooks.dispatcher import EXHAUSTED, Delivery, Dispatcher
from ledger_sink.webhooks.retry_records import Ticket
from ledger_sink.webhooks.settings import WebhookSettings
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.codec import encode_webhook_event
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
    def __init__(self) -> None:
        self.retries: list[Ticket] = []
        self.letters: list[DeadLetter] = []

    async def retry(self, delivery: Delivery, ticket: Ticket) -> None:
        self.retries.append(ticket)

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

    settings = WebhookSettings(**({"max_attempts": 3, "breaker_failures": 2} | changes))  # type: ignore[arg-type]
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


async def test_an_open_circuit_skips_the_request_and_goes_to_retry() -> None:
    seen: list[httpx.Request] = []
    subject, outbox = dispatcher([500, 500], seen)
    assert [await subject.deliver(delivery()) for _ in range(3)] == [
        "failed",
        "failed",
        "circuit_open",
    ]
    assert len(seen) == 2 and len(outbox.retries) == 3


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
