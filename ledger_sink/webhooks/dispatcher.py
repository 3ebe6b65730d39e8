"""What happens to one (event, subscriber) delivery: send it, or schedule its next attempt,
or dead-letter it; bounded concurrency and a circuit breaker per subscriber.

Slots are taken per subscriber first, then globally: deliveries queued behind a hanging
receiver wait on that receiver's own slots and never hold one another subscriber needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
import structlog

from ledger_sink import metrics
from ledger_sink.raw import RawRecord, dead_letter
from ledger_sink.webhooks import backoff
from ledger_sink.webhooks.breaker import Breaker
from ledger_sink.webhooks.delivery import post
from ledger_sink.webhooks.retry_records import Ticket
from ledger_sink.webhooks.settings import WebhookSettings
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.records import DeadLetter, WebhookEvent

log = structlog.get_logger("ledger_sink.webhooks")
EXHAUSTED = "webhook_retries_exhausted"


@dataclass(frozen=True, slots=True)
class Delivery:
    """Attempt `attempt` (1-based) at giving `event` to `subscription`."""

    record: RawRecord  # where it was read: the events topic, or the retry topic
    event: WebhookEvent
    subscription: Subscription
    attempt: int

    @property
    def event_bytes(self) -> bytes:
        return self.record.value or b""


class Outbox(Protocol):
    async def retry(self, delivery: Delivery, ticket: Ticket) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...


class Dispatcher:
    def __init__(
        self,
        settings: WebhookSettings,
        client: httpx.AsyncClient,
        outbox: Outbox,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.client, self.outbox = settings, client, outbox
        self.clock, self.wall = clock, wall
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._breakers: dict[str, Breaker] = {}

    def breaker(self, subscription_id: str) -> Breaker:
        found = self._breakers.get(subscription_id)
        if found is None:
            found = Breaker(self.settings.breaker_failures, self.settings.breaker_cooldown_s)
            self._breakers[subscription_id] = found
        return found

    async def deliver(self, delivery: Delivery) -> str:
        """Deliver, or pass it on to its next attempt; the result: delivered, failed or
        circuit_open (both of the latter are retried or dead-lettered)."""
        result, error = await self._attempt(delivery)
        metrics.WEBHOOK_DELIVERIES.labels(result).inc()
        if result != "delivered":
            await self._after_failure(delivery, error)
        return result

    async def _attempt(self, delivery: Delivery) -> tuple[str, str]:
        sub_id = delivery.subscription.subscription_id
        slot = self._slots.setdefault(
            sub_id, asyncio.Semaphore(self.settings.per_subscriber_concurrency)
        )
        async with slot:
            breaker = self.breaker(sub_id)
            if not breaker.allow(self.clock()):
                return "circuit_open", "circuit open: recent deliveries failed"
            try:
                async with self._global:
                    attempt = await post(
                        self.client,
                        delivery.subscription,
                        delivery.event,
                        delivery.attempt,
                        self.settings.request_timeout_s,
                        self.wall,
                    )
            except BaseException:
                breaker.probing = False  # cancelled mid-probe: let the next one probe
                raise
            if attempt.ok:
                breaker.succeeded()
                return "delivered", ""
            breaker.failed(self.clock())
            return "failed", attempt.error or "failed"

    async def _after_failure(self, delivery: Delivery, error: str) -> None:
        if delivery.attempt >= self.settings.max_attempts:
            await self.outbox.dead_letter(exhausted(delivery, error))
            metrics.WEBHOOK_DEAD_LETTERED.labels("exhausted").inc()
            log.warning(
                "delivery dead-lettered",
                event_id=delivery.event.event_id,
                subscription_id=delivery.subscription.subscription_id,
                attempts=delivery.attempt,
                error=error,
            )
            return
        wait_s = backoff.delay(
            delivery.attempt, self.settings.backoff_base_s, self.settings.backoff_max_s
        )
        ticket = Ticket(
            subscription_id=delivery.subscription.subscription_id,
            attempt=delivery.attempt + 1,
            due_ms=int((self.wall() + wait_s) * 1000),
            last_error=error,
            event_id=delivery.event.event_id,
        )
        await self.outbox.retry(delivery, ticket)
        metrics.WEBHOOK_RETRIES.inc()


def exhausted(delivery: Delivery, error: str) -> DeadLetter:
    """The dead letter of a delivery whose last attempt failed: the event's bytes kept."""
    return dead_letter(
        delivery.record,
        EXHAUSTED,
        f"{delivery.attempt} attempts; the last: {error}",
        extra_headers={
            "sentinel-subscription-id": delivery.subscription.subscription_id,
            "sentinel-event-id": delivery.event.event_id,
            "sentinel-attempts": str(delivery.attempt),
        },
    )
