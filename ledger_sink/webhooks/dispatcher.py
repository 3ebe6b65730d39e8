"""What happens to one (event, subscriber) delivery: send it, park it, schedule its next
attempt, or dead-letter it; bounded concurrency and a circuit breaker per subscriber.

A subscriber whose circuit is open, or whose queue is full, gets no attempt: its deliveries
are parked (ledger_sink.webhooks.parking), batched into one retry record per flush, and
come back together when the circuit lets a probe through.

Slots are taken per subscriber first, then globally: deliveries queued behind a hanging
receiver wait on that receiver's own slots and never hold one another subscriber needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import structlog

from ledger_sink import metrics
from ledger_sink.raw import dead_letter
from ledger_sink.webhooks import backoff
from ledger_sink.webhooks.breaker import Breaker
from ledger_sink.webhooks.delivery import post
from ledger_sink.webhooks.parking import Entry, ParkingLot, joined
from ledger_sink.webhooks.retry_records import Ticket
from ledger_sink.webhooks.settings import WebhookSettings
from ledger_sink.webhooks.stats import DeliveryStats
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter, WebhookEvent

log = structlog.get_logger("ledger_sink.webhooks")
EXHAUSTED = "webhook_retries_exhausted"
_PARKED = metrics.WEBHOOK_DELIVERIES.labels("parked")


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

    async def park(self, subscription_id: str, entries: list[Entry], due_ms: int) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...


class Dispatcher:
    def __init__(
        self,
        settings: WebhookSettings,
        client: httpx.AsyncClient,
        outbox: Outbox,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        stats: DeliveryStats | None = None,
    ) -> None:
        self.settings, self.client, self.outbox = settings, client, outbox
        self.clock, self.wall = clock, wall
        # Per subscription and minute, in memory; a StatsFlusher writes them (service.py).
        self.stats = stats if stats is not None else DeliveryStats(wall)
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._answered: dict[str, int] = {}  # requests each subscriber has finished
        self._breakers: dict[str, Breaker] = {}
        self.parking = ParkingLot(outbox.park, settings.park_flush_s, settings.park_batch_bytes)

    def breaker(self, subscription_id: str) -> Breaker:
        found = self._breakers.get(subscription_id)
        if found is None:
            found = Breaker(self.settings.breaker_failures, self.settings.breaker_cooldown_s)
            self._breakers[subscription_id] = found
        return found

    async def deliver_all(self, deliveries: list[Delivery]) -> asyncio.Future[Any] | None:
        """One event to its subscribers: those that cannot take it now are parked on the
        spot (no task, no request each: a dead subscriber costs an append), the others
        delivered concurrently. Returns once those are delivered (or failed, or parked),
        with the future of the parked ones' store (None: nothing parked), which the caller
        must see resolved before it counts the event done; no delivery waits for it."""
        stored: list[asyncio.Future[None] | None] = []
        now: list[Delivery] = []
        for delivery in deliveries:
            until = self._parked_until(delivery.subscription.subscription_id)
            if until is None:
                now.append(delivery)
                continue
            self.stats.retries_scheduled(delivery.subscription.subscription_id)
            stored.append(
                self.parking.park_nowait(
                    delivery.subscription.subscription_id,
                    Entry(delivery.attempt, delivery.event_bytes),
                    self._due_ms(until),
                )
            )
        if len(now) < len(deliveries):
            _PARKED.inc(len(deliveries) - len(now))
        if len(now) == 1:
            stored.append((await self._deliver(now[0], due_now=False))[1])
        elif now:
            done = await asyncio.gather(*(self._deliver(d, due_now=False) for d in now))
            stored.extend(f for _result, f in done)
        return joined(stored)

    async def deliver(self, delivery: Delivery, *, due_now: bool = False) -> str:
        """Deliver, park, or pass it on to its next attempt; the result: delivered, parked
        (its subscriber cannot take it now: no request made) or failed (retried or
        dead-lettered). `due_now`: a parked delivery come due, which waits for its
        subscriber's slots as long as it takes, and is counted an attempt if parked again."""
        result, stored = await self._deliver(delivery, due_now=due_now)
        if stored is not None:  # shielded: a cancelled waiter must not cancel the flush
            await asyncio.shield(stored)
        return result

    async def _deliver(
        self, delivery: Delivery, *, due_now: bool
    ) -> tuple[str, asyncio.Future[None] | None]:
        """`deliver`, but a parked delivery's store is returned rather than awaited."""
        sub_id = delivery.subscription.subscription_id
        until = self._parked_until(sub_id)
        result, error = "parked", ""
        if until is None:
            wait_s = None if due_now else self.settings.slot_wait_s
            result, error = await self._attempt(delivery, wait_s)
            if result == "busy":
                # A subscriber slower than its slots would queue every event here, holding
                # the events topic (and so every other subscriber): it waits apart instead.
                until = self.clock() + self.settings.request_timeout_s
            elif result == "circuit_open":  # it opened while this one waited for a slot
                until = self._parked_until(sub_id) or self.clock()
            if until is not None:
                result = "parked"
        metrics.WEBHOOK_DELIVERIES.labels(result).inc()
        if until is not None:
            return result, await self._park(delivery, until, counted=due_now)
        if result == "failed":
            await self._after_failure(delivery, error)
        return result, None

    async def deliver_parked(self, parked: list[Delivery]) -> None:
        """A parked batch come due. While its subscriber still cannot take deliveries, the
        rest go back in one record, an attempt counted (the exhausted dead-lettered); else
        they are delivered a few at a time through the subscriber's own slots."""
        if not parked:
            return
        sub_id = parked[0].subscription.subscription_id
        pending = iter(parked)

        async def worker() -> None:
            while self._parked_until(sub_id) is None:
                delivery = next(pending, None)  # shared: each taken by one worker
                if delivery is None:
                    return
                await self.deliver(delivery, due_now=True)

        width = min(len(parked), self.settings.per_subscriber_concurrency)
        await asyncio.gather(*(worker() for _ in range(width)))
        rest = list(pending)
        if not rest:
            return
        until = self._parked_until(sub_id)
        if until is None:  # the probe came back good meanwhile: carry on
            await self.deliver_parked(rest)
            return
        entries = [Entry(d.attempt, d.event_bytes) for d in rest]
        stored, _spent = self.park_again(sub_id, entries, until)
        if stored is not None:
            await asyncio.shield(stored)
        for delivery in rest:
            if delivery.attempt >= self.settings.max_attempts:
                await self.dead_letter_parked(delivery)

    def parked_until(self, subscription_id: str) -> float | None:
        """Until when this subscriber's deliveries wait untried (None: they may go now)."""
        return self._parked_until(subscription_id)

    def _parked_until(self, sub_id: str) -> float | None:
        return self.breaker(sub_id).parked_until(self.clock(), self.settings.request_timeout_s)

    async def _park(
        self, delivery: Delivery, until: float, *, counted: bool
    ) -> asyncio.Future[None] | None:
        """Park it (the future of its store), or dead-letter it if that was its last try."""
        if counted and delivery.attempt >= self.settings.max_attempts:
            await self._dead_letter(delivery, "parked: the subscriber was failing")
            return None
        attempt = delivery.attempt + 1 if counted else delivery.attempt
        entry = Entry(attempt, delivery.event_bytes)
        sub_id = delivery.subscription.subscription_id
        self.stats.retries_scheduled(sub_id)
        return self.parking.park_nowait(sub_id, entry, self._due_ms(until))

    def _due_ms(self, until: float) -> int:
        """Epoch milliseconds of `until`, a time on the monotonic clock."""
        return int((self.wall() + max(0.0, until - self.clock())) * 1000)

    def park_again(
        self, sub_id: str, entries: list[Entry], until: float
    ) -> tuple[asyncio.Future[Any] | None, list[Entry]]:
        """Parked entries come due while their subscriber still cannot take them: an attempt
        counted each, those with attempts left parked again, without decoding them, in the
        subscriber's batch of such entries (every batch that comes due in one flush goes
        back as one record). Returns the future of that store (None: nothing parked) and
        the exhausted entries, for the caller to dead-letter."""
        keep = [Entry(e.attempt + 1, e.event_bytes) for e in entries if not self._spent(e)]
        stored: asyncio.Future[Any] | None = None
        if keep:
            first = min(e.attempt for e in keep) - 1
            wait_s = max(
                until - self.clock(),
                backoff.delay(first, self.settings.backoff_base_s, self.settings.backoff_max_s),
            )
            due_ms = int((self.wall() + wait_s) * 1000)
            # Every entry's store: a batch that fills up mid-way flushes on its own.
            stored = joined(
                [self.parking.park_nowait(sub_id, entry, due_ms, again=True) for entry in keep]
            )
            _PARKED.inc(len(keep))
            self.stats.retries_scheduled(sub_id, len(keep))
        return stored, [e for e in entries if self._spent(e)]

    def _spent(self, entry: Entry) -> bool:
        return entry.attempt >= self.settings.max_attempts

    async def dead_letter_parked(self, delivery: Delivery) -> None:
        await self._dead_letter(delivery, "parked: the subscriber was failing")

    async def _attempt(self, delivery: Delivery, wait_s: float | None) -> tuple[str, str]:
        """One request, once a slot of the subscriber's is free: "busy" when none came
        within `wait_s` (None: wait as long as it takes)."""
        sub_id = delivery.subscription.subscription_id
        slot = self._slots.setdefault(
            sub_id, asyncio.Semaphore(self.settings.per_subscriber_concurrency)
        )
        if not await self._slot(sub_id, slot, wait_s):
            return "busy", ""
        try:
            breaker = self.breaker(sub_id)
            if not breaker.allow(self.clock()):
                return "circuit_open", ""
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
            self._answered[sub_id] = self._answered.get(sub_id, 0) + 1
            self.stats.attempted(sub_id, attempt.status, attempt.ok, attempt.seconds)
            if attempt.ok:
                breaker.succeeded()
                return "delivered", ""
            breaker.failed(self.clock())
            return "failed", attempt.error or "failed"
        finally:
            slot.release()

    async def _slot(self, sub_id: str, slot: asyncio.Semaphore, wait_s: float | None) -> bool:
        """Take one of the subscriber's slots: False when none came within `wait_s` while
        the subscriber finished no request (it hangs), or within a request timeout at most
        (it is slower than its traffic). A subscriber that answers keeps its deliveries in
        line however long the dispatcher itself took to get to them (a busy machine, a
        burst), rather than see them parked for a request timeout."""
        if wait_s is None:
            await slot.acquire()
            return True
        waited = 0.0
        while True:
            answered = self._answered.get(sub_id, 0)
            try:
                async with asyncio.timeout(wait_s):
                    await slot.acquire()
                return True
            except TimeoutError:
                waited += wait_s
            if self._answered.get(sub_id, 0) == answered:
                return False
            if waited >= self.settings.request_timeout_s:
                return False

    async def _after_failure(self, delivery: Delivery, error: str) -> None:
        if delivery.attempt >= self.settings.max_attempts:
            await self._dead_letter(delivery, error)
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
        self.stats.retries_scheduled(ticket.subscription_id)

    async def _dead_letter(self, delivery: Delivery, error: str) -> None:
        await self.outbox.dead_letter(exhausted(delivery, error))
        metrics.WEBHOOK_DEAD_LETTERED.labels("exhausted").inc()
        self.stats.dead_lettered(delivery.subscription.subscription_id)
        log.warning(
            "delivery dead-lettered",
            event_id=delivery.event.event_id,
            subscription_id=delivery.subscription.subscription_id,
            attempts=delivery.attempt,
            error=error,
        )


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
