"""`sentinel webhooks run`'s process: two pumps (new events, due retries) sharing one
dispatcher, HTTP client and subscription cache, until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Coroutine, Sequence

import httpx
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from ledger_sink import metrics
from ledger_sink.errors import KafkaUnavailable
from ledger_sink.raw import dead_letter
from ledger_sink.webhooks import parking, retry_records
from ledger_sink.webhooks.cache import SubscriptionCache
from ledger_sink.webhooks.dispatcher import Delivery, Dispatcher
from ledger_sink.webhooks.guard import GuardedTransport
from ledger_sink.webhooks.kafka_edge import AsyncConsumer, AsyncProducer
from ledger_sink.webhooks.offsets import OffsetTracker
from ledger_sink.webhooks.parking import Entry
from ledger_sink.webhooks.pump import Abandoned, Pump, Stored
from ledger_sink.webhooks.retry_records import InvalidRetryRecord, Ticket
from ledger_sink.webhooks.settings import WebhookSettings
from ledger_sink.webhooks.stats import DeliveryStats, StatsFlusher
from ledger_sink.webhooks.subscriptions import Subscription
from schemas.codec import decode_webhook_event, encode_dead_letter
from schemas.errors import SchemaError
from schemas.kafka_edge import RawRecord
from schemas.records import DeadLetter

log = structlog.get_logger("ledger_sink.webhooks.service")


class KafkaOutbox:
    """Retry and dead-letter records, each sent until the broker acknowledges it."""

    def __init__(self, settings: WebhookSettings, producer: AsyncProducer) -> None:
        self.settings, self.producer = settings, producer

    async def retry(self, delivery: Delivery, ticket: Ticket) -> None:
        key = ticket.subscription_id.encode()
        await self._send(self.settings.retry_topic, key, delivery.event_bytes, ticket.headers())

    async def park(self, subscription_id: str, entries: list[Entry], due_ms: int) -> None:
        """One retry record for a batch of parked deliveries to one subscriber."""
        ticket = Ticket(subscription_id, min(e.attempt for e in entries), due_ms, "parked")
        await self._send(
            self.settings.retry_topic,
            subscription_id.encode(),
            parking.encode(entries),
            parking.batch_headers(ticket, len(entries)),
        )

    async def dead_letter(self, letter: DeadLetter) -> None:
        await self._send(self.settings.dead_letter_topic, letter.key, encode_dead_letter(letter))

    async def undecodable(self, letter: DeadLetter) -> None:
        metrics.WEBHOOK_DEAD_LETTERED.labels(letter.error_code).inc()
        await self._send(self.settings.undecodable_topic, letter.key, encode_dead_letter(letter))

    async def _send(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(KafkaUnavailable),
            wait=wait_exponential_jitter(multiplier=0.2, max=10, jitter=0.2),
        ):
            with attempt:
                await self.producer.send(topic, key, value, headers)


class Handlers:
    """What each pump does with a record."""

    def __init__(
        self,
        cache: SubscriptionCache,
        dispatcher: Dispatcher,
        outbox: KafkaOutbox,
        stop: asyncio.Event,
    ) -> None:
        self.cache, self.dispatcher, self.outbox, self.stop = cache, dispatcher, outbox, stop

    async def on_event(self, record: RawRecord) -> Stored:
        """Returns once the event is with every subscriber that can take it now; the
        parked rest are stored when the returned future resolves."""
        try:
            event = decode_webhook_event(record.value)
        except SchemaError as exc:
            await self.outbox.undecodable(dead_letter(record, exc.code, str(exc)))
            return None
        wanted = await self.cache.matching(event.event_type)
        return await self.dispatcher.deliver_all(
            [Delivery(record, event, sub, 1) for sub in wanted]
        )

    async def on_retry(self, record: RawRecord) -> Stored:
        try:
            ticket = retry_records.parse(record.headers)
            if parking.is_batch(record):
                return await self._on_parked(record, ticket)
            event = decode_webhook_event(record.value)
        except (InvalidRetryRecord, SchemaError) as exc:
            code = getattr(exc, "code", "invalid_retry_record")
            await self.outbox.undecodable(dead_letter(record, code, str(exc)))
            return None
        await self._until(ticket.due_ms / 1000)
        self.dispatcher.stats.retries_taken(ticket.subscription_id)
        subscription = await self.cache.find(ticket.subscription_id)
        if subscription is None:
            log.info("subscription inactive; retry dropped", subscription_id=ticket.subscription_id)
            return None
        await self.dispatcher.deliver(Delivery(record, event, subscription, ticket.attempt))
        return None

    async def _on_parked(self, record: RawRecord, ticket: Ticket) -> Stored:
        """A batch of parked deliveries, held until due. If its subscriber still cannot take
        them they go back as they are (undecoded: the cheap path of a dead subscriber);
        else they are decoded (an undecodable entry dead-lettered alone) and delivered."""
        entries = parking.decode(record.value or b"")
        await self._until(ticket.due_ms / 1000)
        self.dispatcher.stats.retries_taken(ticket.subscription_id, len(entries))
        subscription = await self.cache.find(ticket.subscription_id)
        if subscription is None:
            log.info(
                "subscription inactive; parked deliveries dropped",
                subscription_id=ticket.subscription_id,
                count=len(entries),
            )
            return None
        until = self.dispatcher.parked_until(subscription.subscription_id)
        if until is not None:
            stored, spent = self.dispatcher.park_again(subscription.subscription_id, entries, until)
            for delivery in await self._decoded(record, ticket, subscription, spent):
                await self.dispatcher.dead_letter_parked(delivery)
            return stored
        parked = await self._decoded(record, ticket, subscription, entries)
        await self.dispatcher.deliver_parked(parked)
        return None

    async def _decoded(
        self, record: RawRecord, ticket: Ticket, subscription: Subscription, entries: list[Entry]
    ) -> list[Delivery]:
        deliveries = []
        for entry in entries:
            try:
                event = decode_webhook_event(entry.event_bytes)
            except SchemaError as exc:
                alone = parking.single(record, ticket, entry, "")
                await self.outbox.undecodable(dead_letter(alone, exc.code, str(exc)))
                continue
            alone = parking.single(record, ticket, entry, event.event_id)
            deliveries.append(Delivery(alone, event, subscription, entry.attempt))
        return deliveries

    async def _until(self, due: float) -> None:
        """Wait for `due` (epoch seconds) without holding anything; give up on shutdown."""
        wait_s = due - time.time()
        if wait_s <= 0:
            return
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=wait_s)
        except TimeoutError:
            return
        raise Abandoned


async def run(settings: WebhookSettings, stop: asyncio.Event) -> None:
    """Dispatch webhooks until `stop` is set."""
    metrics.serve(settings.metrics_port, settings.metrics_host)
    cache = SubscriptionCache(
        settings.postgres.dsn.get_secret_value(), settings.subscription_cache_s
    )
    if not await _first(cache.load(), stop):
        return  # stopped while the database was still unreachable
    producer = AsyncProducer(settings.kafka)
    # trust_env off: a proxy from the environment would connect on our behalf, unchecked.
    transport = GuardedTransport(settings.targets, settings.max_concurrency)
    async with httpx.AsyncClient(
        transport=transport, timeout=settings.request_timeout_s, trust_env=False
    ) as client:
        outbox = KafkaOutbox(settings, producer)
        stats = DeliveryStats(max_rows=settings.stats_max_rows)
        dispatcher = Dispatcher(settings, client, outbox, stats=stats)
        handlers = Handlers(cache, dispatcher, outbox, stop)
        flusher = StatsFlusher(
            stats, settings.postgres.dsn.get_secret_value(), settings.stats_flush_s
        )
        # Its own stop: it writes once more after the pumps have finished their deliveries.
        flushed = asyncio.Event()
        flushing = asyncio.create_task(flusher.run(flushed))
        pumps = [
            Pump(
                "events",
                _consumer(settings, settings.group_id, settings.events_topic),
                handlers.on_event,
                settings,
            ),
            Pump(
                "retries",
                _consumer(settings, settings.retry_group_id, settings.retry_topic),
                handlers.on_retry,
                settings,
            ),
        ]
        log.info("dispatcher started", events=settings.events_topic, retries=settings.retry_topic)
        try:
            await _run_all(pumps, stop)
        finally:
            flushed.set()
            await flushing
            producer.close()
            log.info("dispatcher stopped")


async def _run_all(pumps: list[Pump], stop: asyncio.Event) -> None:
    """Run every pump; if one fails, stop the others and re-raise its error."""
    tasks = [asyncio.create_task(pump.run(stop)) for pump in pumps]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _first(work: Coroutine[object, object, None], stop: asyncio.Event) -> bool:
    """Run `work` unless `stop` is set first; True when `work` finished."""
    working = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (working, stopping):
        task.cancel()
    if working in done:
        await working  # re-raises its error, if any
        return True
    return False


def _consumer(settings: WebhookSettings, group: str, topic: str) -> AsyncConsumer:
    return AsyncConsumer(
        settings.kafka,
        settings.topic(group),
        topic,
        OffsetTracker(),
        settings.instance_id,
        settings.session_timeout_ms,
        settings.fetch_gather_ms,
    )


def main(settings: WebhookSettings) -> None:
    """Run in a new event loop; SIGTERM and SIGINT stop it gracefully."""

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run(settings, stop)

    asyncio.run(serve())
