"""THE one module that reaches into faust-streaming's, mode's and aiokafka's internals.

Checked against faust-streaming 0.15.3, mode-streaming 0.7.1 and aiokafka 0.14, the pinned
versions; a unit test (``tests/unit/stream_agents/test_faust_edge.py``) fails on any other
version, and on a change to the faust and mode source these workarounds copy or lean on.
Everything else in ``stream_agents`` uses faust's public API. What is here, and why:

1. **Changelog records fetched again when faust drops them** (``RewindingConsumer``).
faust's ``Consumer.getmany`` drops a whole fetched batch when it comes back while the flow
is stopped (a rebalance is under way), yet aiokafka has already counted those records as
consumed: its position is past them. faust seeks the source partitions back to their
committed offsets, but not the tables' changelog partitions. When the batch was fetched
*after* the table recovery had sought a changelog partition back (to re-read it from the
start), and before the recovery resumed the flow, nothing ever reads those records again:
the recovery waits for them forever ("No event received for active tp ... since recovery
start"). Seen in the partitions-come-back fault test, about one run in five under load:
the partitions the worker had followed as a standby came back as actives, and the batch
from the recovery's seek to offset 0 went in the bin.

The fix: when a batch is dropped, each changelog partition in it is sought back to the
first dropped offset, unless something (the recovery) has sought it further back since.
Reading a changelog record twice is harmless (recovery applies an offset only past the
last one it applied); skipping one is not. Source partitions are left to faust (it seeks
them to their committed offsets) and to the agent's checkpoint (``stream_agents.checkpoint``).

2. **One delay taken out of a worker's start** (``PromptTableManager``): faust's table
manager sleeps a second before it registers the tables' changelog channels, for tables
declared after the app starts; ours are declared before, and that second is a fifth of a
restarted worker's allowance (docs/adr/0004-static-membership.md).

Internals: ``Consumer._wait_next_records``, ``getmany``'s ``flow_active`` test,
``AIOKafkaConsumerThread._seek_wait``, ``TableManager.on_start``,
``App._new_transport``.

3. **The feature table's local store, by partition** (``PartitionedStore``).
The agent works on whole micro-batches, so it reads and writes the table's store directly
(and publishes the changelog records itself, with librdkafka) rather than through faust's
per-event ``table[key]`` API. That is all the memory store needs: one dict for every
partition, rebuilt from the whole changelog at every start.

faust's rocksdb store (``rocksdb://``, the ``rocksdict`` package) keeps one database per
partition and picks it from faust's *current event*, which is unset in the body of a
``take_events`` batch: its ``Store._set`` then fails an assertion (the agent crashed on its
first write before this workaround), and its reads would search every database. So with
rocksdb a value is written to the database of the partition whose changelog receives it,
and read from it. A restart reads only the changelog past the offset persisted in each
database: faust records it when *its* producer acknowledges a changelog record, which the
agent's records never pass through, so ``persisted`` records it once the agent's own
publish is acknowledged (every value of the batch is in the database by then). This
reaches into faust's rocksdb ``Store`` (``_db_for_partition``, ``_dbs``, ``_key_index``,
``set_persisted_offset``): checked against faust-streaming 0.15.3, the pinned version.

4. **What faust has committed** (``committed_offsets``): faust keeps, per partition, the
offset it last committed or found committed at its last seek (``Consumer._committed_offset``)
and has no public accessor for it. The agent's stall check compares it with the applied
mark: after a crash faust can drop a redelivery below the mark, and then nothing
acknowledges it and its commits stop there (``stream_agents.checkpoint``).

5. **Fetches the broker gathers** (``CoalescingConsumerThread``): faust builds its
aiokafka consumer with ``fetch_max_wait_ms=1500`` written into the call and aiokafka's
``fetch_min_bytes=1``, with no setting for either, so the broker answers a fetch as soon
as one record is there. aiokafka encodes each fetch request and parses each response in
Python, for every assigned partition (the source's and the standby changelogs'): py-spy on a
worker at 250 tx/s put faust's consumer (then a thread, 6.) at 45 % of its busy time, most of it
writing fetch requests and reading responses of a record or two. The consumer is built by
faust's ``AIOKafkaConsumerThread._create_worker_consumer``; its two fetch attributes
(``_fetch_max_wait_ms``, ``_fetch_min_bytes``) are set before aiokafka builds its fetcher
from them at start (``SENTINEL_AGENTS_FETCH_WAIT_MS``, ``SENTINEL_AGENTS_FETCH_MIN_BYTES``).

6. **The consumer on the app's event loop** (``LoopTask``, ADR 0011): faust's aiokafka
driver runs its consumer as a mode ``ServiceThread``, a thread with an event loop of its
own, and hands every fetch, seek and commit to it through a method queue and
``call_soon_threadsafe`` (the app's loop and the thread's woken through their self-pipes,
the GIL handed back and forth). aiokafka is an asyncio client: nothing it does needs a
thread. ``ServiceThread`` takes the loop to serve on (``thread_loop``) and the class that
runs it (``Worker``) as constructor arguments; the consumer's are the app's own loop and
``LoopTask``, which serves mode's private ``ServiceThread._serve`` as a task of that loop
instead of starting a thread. Two of mode's thread mechanics are then wrong and are
switched off in ``CoalescingConsumerThread``: ``call_thread`` (the method queue: now a
plain call, as the caller is on the same loop) and ``_gather_remaining_tasks`` (at stop,
mode cancels every task left on the thread's loop, which is now the app's). Written for
mode-streaming 0.7.1 (pinned).

7. **A micro-batch closed at once for a waiting caller** (``BatchingStream.take_ready``).
faust's ``Stream.take_events(max_, within)`` closes a batch when it is full or ``within``
after the previous one was done with, whatever it holds: a transaction whose producer is
waiting for its decision (``/v1/authorize``) waits out the window like bulk traffic, and
faust has no hook to close a batch early. ``take_ready`` is ``take_events`` (the same
buffering processor on the stream's passive drain, the same timing, manual acks and
cleanup) that also closes the batch when it takes an event ``urgent`` is true of, and
that, closing, takes the events already waiting in the channel, up to ``max_``
(docs/adr/0012-awaited-transactions-close-their-batch.md). Internals:
``Stream._enable_passive``, ``_processors``, ``_active_agens``, ``current_event``,
``enable_acks``, the channel's queue; a unit test compares ``take_events``' source.
8. **A fetched record handed on without tasks** (``EagerWaitFirst``, the consumer's base). faust's
consumer hands every fetched record to the conductor (``Consumer._drain_messages``) as
``await self.wait_first(callback(message), self.suspend_flow.wait())``: mode's
``Service.wait_first`` wraps each of the two, and the service's stopped and crashed
events, in a task and waits for the first with ``asyncio.wait``, so that a rebalance can
abandon a hand-off blocked by flow control. Four tasks and a wait for each record (~33 µs
on an idle loop), where the hand-off nearly always completes without suspending: the
conductor puts the event on its channel's queue. ``wait_first`` here runs the first
coroutine up to its first suspension; when it finishes there (and the service is running),
that is the answer, and the other awaitables are closed unawaited. When it suspends, it is
continued in a task from where it stopped and raced against the others exactly as mode
would (``_Continued``). The first step runs in the drain loop's own task rather than in a
task of its own: the conductor reads no task-local state (faust's current event is set by
the streams, later). The one difference: an already-set event passed beside a coroutine
that finishes is not listed among the winners; the consumer's one caller of that shape,
``_drain_messages``, reads nothing of the result. Internals: ``Service.wait_first``,
``_stopped``, ``_crashed``, ``WaitResults``; a unit test compares ``_drain_messages``'
source (docs/adr/0013-records-handed-on-without-tasks.md).

9. **Changelog records taken without a timer each** (``EagerRecovery``). faust's table
recovery (``Recovery._slurp_changelogs``), which follows the standby partitions for as long
as the worker runs, takes every changelog record off its queue as ``await
asyncio.wait_for(changelog_queue.get(), timeout=5.0)``: Python 3.11's ``wait_for`` makes a
task, a timer and a waiter for it and suspends at least once, ~14 µs a record on an idle
loop where the queue nearly always holds the record already. ``EagerRecovery`` runs faust's
own method (its code object, unchanged) with globals in which ``asyncio`` is
``EagerAsyncio``: its ``wait_for`` runs the coroutine up to its first suspension and, when
it finishes there, returns its value at once; when it suspends, the coroutine is continued
from there under the timeout as before (``_Continued``). So that a long recovery still lets
the loop run (heartbeats, batches), after ``EAGER_RUN`` records taken in a row the next one
goes through ``asyncio.wait_for`` unchanged. faust's module is not touched: the method is
rebuilt with a copy of its globals. Internals: ``Recovery._slurp_changelogs`` (a unit test
compares its use of ``asyncio``), ``TableManager.recovery``, ``_recovery``
(docs/adr/0014-changelog-records-taken-without-timers.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Iterable, Mapping
from functools import partial
from types import FunctionType
from typing import Any, Final, cast

import faust
from aiokafka import AIOKafkaConsumer
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode import Service
from mode.services import WaitArgT, WaitResults
from mode.utils.futures import maybe_async, notify
from mode.utils.times import Seconds

log = logging.getLogger("stream_agents")


def rewind_targets(dropped: Mapping[TP, int], positions: Mapping[TP, int]) -> dict[TP, int]:
    """Where to seek each partition whose records from ``dropped[tp]`` on were dropped,
    given its position now: back to the first dropped offset, unless the position is
    already there or before it (a seek since the fetch, which stands)."""
    return {tp: first for tp, first in dropped.items() if tp in positions and positions[tp] > first}


class LoopTask:
    """Stands in for mode's ``WorkerThread``: a ``ServiceThread`` served as a task of its
    parent's event loop rather than in a thread with a loop of its own (6.)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = self.service.parent_loop.create_task(self.service._serve())
        self.task.add_done_callback(_crashed)

    def stop(self) -> None:
        """Nothing to join: the task ends once the service has stopped."""

    def is_alive(self) -> bool:
        return self.task is not None and not self.task.done()


def _crashed(task: asyncio.Task[None]) -> None:
    """What a thread's crash would print: mode has crashed the app by then (``_serve``)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("faust's consumer stopped on an error", exc_info=task.exception())


class ServedOnTheLoop:
    """For a mode ``QueueServiceThread`` built with ``thread_loop`` its parent's loop and
    ``Worker=LoopTask``: the two thread mechanics that would be wrong there, off (6.)."""

    async def call_thread(self, fun: Any, *args: Any, **kwargs: Any) -> Any:
        # The caller is on the same loop: a plain call, no method queue in between.
        return await maybe_async(fun(*args, **kwargs))

    async def _gather_remaining_tasks(self) -> None:
        # At stop mode cancels every task left on the thread's loop, which is the app's
        # here: its tasks are not the consumer's to cancel.
        return None


class CoalescingConsumerThread(ServedOnTheLoop, faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer "thread", served on the app's event loop (``LoopTask``), whose
    aiokafka consumer lets the broker gather a fetch as its ``App`` says."""

    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        app = cast(App, self.app)  # the transport's app: always ours (App._new_transport)
        # aiokafka builds its fetcher from these when it starts, which is later.
        consumer._fetch_max_wait_ms = app.fetch_wait_ms
        consumer._fetch_min_bytes = app.fetch_min_bytes
        return consumer


class EagerWaitFirst(Service):
    """A mode ``Service`` whose ``wait_first`` goes without mode's tasks when the first awaitable,
    a coroutine, finishes before it suspends (8.)."""

    async def wait_first(
        self,
        *coros: WaitArgT,
        timeout: Seconds = None,  # type: ignore[assignment]  # mode's signature, as declared
    ) -> WaitResults:
        first = coros[0] if coros else None
        if not asyncio.iscoroutine(first) or self._stopped.is_set() or self._crashed.is_set():
            return await super().wait_first(*coros, timeout=timeout)
        others = coros[1:]
        try:
            finished, got = _started(first)
        except BaseException:
            _close(others)
            raise
        if finished:
            _close(others)
            return WaitResults([first], [got], False)
        continued = asyncio.ensure_future(got, loop=self.loop)
        return await super().wait_first(continued, *others, timeout=timeout)


def _started(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """``coro`` run up to its first suspension: ``(True, its value)`` when it finished
    there, else ``(False, an awaitable that continues it from where it stopped)``; an error
    it raised on the way is raised here (8., 9.)."""
    try:
        pending = coro.send(None)
    except StopIteration as done:
        return True, done.value
    return False, _Continued(coro, pending)


def _close(awaitables: Iterable[WaitArgT]) -> None:
    """Close the coroutines among ``awaitables`` that will not be awaited."""
    for awaitable in awaitables:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()


class _Continued:
    """A coroutine that has run to its first suspension (``pending``: the future it
    yielded), continued from there by whatever awaits it, as the coroutine's own task
    would have continued it (8.)."""

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation, thrown in where the coroutine waits
                step = partial(coro.throw, exc)
            else:
                step = partial(coro.send, sent)
            try:
                pending = step()
            except StopIteration as done:
                return done.value


class RewindingConsumer(EagerWaitFirst, faust_aiokafka.Consumer):
    """faust's aiokafka consumer; changelog records it drops are fetched again; its fetches
    gathered by the broker (``CoalescingConsumerThread``)."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return CoalescingConsumerThread(
            self, loop=self.loop, thread_loop=self.loop, Worker=LoopTask, beacon=self.beacon
        )

    async def _wait_next_records(self, timeout: float) -> Any:
        records, active_partitions = await super()._wait_next_records(timeout)
        # getmany tests the flow right after this returns, with no await in between:
        # if it is stopped now, the whole batch is about to be dropped.
        if records and not self.flow_active:
            dropped = {
                tp: batch[0].offset
                for tp, batch in records.items()
                if batch and self._is_changelog_tp(tp)
            }
            if dropped:
                await self._thread.call_thread(self._rewind, dropped)
        return records, active_partitions

    async def _rewind(self, dropped: Mapping[TP, int]) -> None:
        """On the consumer's loop (the app's, 6.), where the recovery seeks too: reading
        the positions does not suspend, so none of its seeks can come in between."""
        consumer: AIOKafkaConsumer = self._thread._ensure_consumer()
        assigned = consumer.assignment()
        # position() returns without suspending for an assigned partition that has one.
        positions = {tp: await consumer.position(tp) for tp in dropped if tp in assigned}
        targets = rewind_targets(dropped, positions)
        if targets:
            # faust's own seek, the recovery's: it also resets faust's read offset, which
            # would otherwise drop the records again.
            await self._thread._seek_wait(consumer, targets)
            log.info("changelog records dropped by the consumer, fetched again: %s", targets)


class RewindingTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport with ``RewindingConsumer``."""

    Consumer = RewindingConsumer


class PromptTableManager(TableManager):
    """faust's table manager without the second it waits at start (2.), whose recovery takes
    changelog records without a timer each (9.)."""

    @property
    def recovery(self) -> Recovery:
        # faust 0.15.3's property, building EagerRecovery instead of Recovery.
        if self._recovery is None:
            self._recovery = EagerRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

    async def on_start(self) -> None:
        # faust 0.15.3's on_start is ``await self.sleep(1.0)`` and then these two.
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


# Changelog records ``EagerAsyncio.wait_for`` hands over in a row before it lets the loop
# run once: ~1-3 ms of a recovery's work at a time.
EAGER_RUN: Final = 64


class EagerAsyncio:
    """``asyncio`` as ``EagerRecovery``'s changelog loop sees it: ``wait_for`` returns a
    coroutine's value without a task or timer when it finishes before suspending (9.)."""

    def __init__(self, run: int = EAGER_RUN) -> None:
        self.run = run
        self.in_a_row = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def wait_for(self, awaitable: Any, timeout: float | None) -> Any:
        if not asyncio.iscoroutine(awaitable) or self.in_a_row >= self.run:
            self.in_a_row = 0
            return await asyncio.wait_for(awaitable, timeout)
        finished, got = _started(awaitable)
        if finished:
            self.in_a_row += 1
            return got
        self.in_a_row = 0
        return await asyncio.wait_for(got, timeout)


def _with_globals(function: Any, **names: Any) -> Any:
    """``function`` (its code, defaults and closure) run with its module's globals but
    ``names``: a copy of them, the module left as it is."""
    rebuilt = FunctionType(
        function.__code__,
        {**function.__globals__, **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    rebuilt.__kwdefaults__ = function.__kwdefaults__
    rebuilt.__qualname__ = function.__qualname__
    rebuilt.__doc__ = function.__doc__
    return rebuilt


class EagerRecovery(Recovery):
    """faust's table recovery, whose changelog loop takes a record already queued without
    a task and timer of its own (9.)."""

    # faust's method is a mode ServiceTask (started with the service): its function rebuilt.
    _slurp_changelogs = Service.task(
        _with_globals(Recovery._slurp_changelogs.fun, asyncio=EagerAsyncio())
    )


class BatchingStream(faust.Stream[Any]):
    """faust's stream with ``take_ready``: ``take_events`` whose batches close at once for
    an event whose producer waits (7.)."""

    def take_ready(
        self, max_: int, within: float, urgent: Callable[[Any], bool] | None = None
    ) -> AsyncGenerator[list[Any], None]:
        """Lists of up to ``max_`` events, as ``take_events(max_, within)`` gives them (a
        list closes ``within`` seconds after the previous one was done with, or when full),
        except that one closes at once when it takes an event ``urgent`` is true of (every
        event when ``within`` is 0); a list then also takes the events already waiting.
        Events are acknowledged when the caller asks for the next list."""
        batches = self._take_ready(max_, within, urgent)
        self._active_agens.add(batches)  # closed at the stream's stop, as faust's are
        return batches

    async def _take_ready(
        self, max_: int, within: float, urgent: Callable[[Any], bool] | None
    ) -> AsyncGenerator[list[Any], None]:
        loop = asyncio.get_running_loop()
        # What the channel holds that the stream has not taken (agents' streams read a
        # channel, a topic's).
        queue = cast("faust.ChannelT[Any]", self.channel).queue
        events: list[Any] = []
        closing, consumed = asyncio.Event(), asyncio.Event()
        taking: asyncio.Future[None] | None = None  # set while the caller has a batch

        async def add(value: Any) -> Any:
            nonlocal taking
            if taking is not None:  # the caller has the batch: this event starts the next
                try:
                    await taking
                finally:
                    taking = None
            event = self.current_event
            if event is None:
                raise RuntimeError("a batched stream's event is unset")
            events.append(event)
            if not within or (urgent is not None and urgent(event)):
                closing.set()
            if len(events) >= max_:
                closing.set()
                consumed.clear()
                await self.wait(consumed.wait())  # never more than max_ in a batch
            return value

        # As take_events: the wait starts when the previous batch is done with. No wait:
        # every event closes its batch (take_events would wait for max_). mode's annotation
        # omits None, its own default ("no timeout").
        timeout: Any = within or None
        acks = self.enable_acks
        self.enable_acks = False  # acked below, once the caller is done with the batch
        self.add_processor(add)
        self._enable_passive(cast("faust.ChannelT[Any]", aiter(self.channel)))
        try:
            while not self.should_stop:
                await self.wait_for_stopped(closing.wait(), timeout=timeout)
                if not events:
                    continue
                # Closing: the events already waiting join it, up to max_ (the passive
                # drain takes one a loop turn; it may skip some, hence the bound).
                for _turn in range(max_):
                    if self.should_stop or len(events) >= max_ or queue.empty():
                        break
                    await asyncio.sleep(0)
                taking = loop.create_future()
                try:
                    yield list(events)
                finally:
                    for event in events:
                        await self.ack(event)
                    events.clear()
                    closing.clear()
                    notify(taking)
                    consumed.set()
        finally:
            self.enable_acks = acks
            self._processors.remove(add)


class App(faust.App):
    """A faust app whose consumer is ``RewindingConsumer`` (brokers: ``kafka://``), whose
    table manager is ``PromptTableManager`` and whose streams are ``BatchingStream``.
    ``fetch_wait_ms``/``fetch_min_bytes``: how long the broker may hold a fetch for how
    much data (5.)."""

    def __init__(
        self, *args: Any, fetch_wait_ms: int = 1500, fetch_min_bytes: int = 1, **kwargs: Any
    ) -> None:
        kwargs.setdefault("TableManager", PromptTableManager)
        kwargs.setdefault("Stream", BatchingStream)
        super().__init__(*args, **kwargs)
        self.fetch_wait_ms = fetch_wait_ms
        self.fetch_min_bytes = fetch_min_bytes

    def _new_transport(self) -> Any:
        return RewindingTransport(self.conf.broker_consumer, self)


class PartitionedStore:
    """Reads and writes of one faust table's local store, addressed by partition."""

    def __init__(self, table: Any) -> None:
        # The table, not ``table.data``: faust builds the store lazily, on first use.
        self._table = table

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        """The value of ``key``, looked up in ``partition`` when the caller knows it."""
        data = self._table.data
        if not hasattr(data, "_db_for_partition"):
            value: bytes | None = data.get(key)
            return value
        if partition is not None:
            found: bytes | None = data._db_for_partition(partition).get(key)
            return found
        # An account: its partition is the one its transactions come from, which the
        # pipeline does not pass down. faust keeps a key -> partition index (LRU); past
        # it, ask each open database (a bloom-filter probe, then a read on a hit).
        known = data._key_index.get(key)
        if known is not None and known in data._dbs:
            found = data._dbs[known].get(key)
            if found is not None:
                return found
        for number, db in list(data._dbs.items()):
            if db.key_may_exist(key):
                found = db.get(key)
                if found is not None:
                    data._key_index[key] = number
                    return found
        return None

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key`` in ``partition``'s part of the table."""
        data = self._table.data
        if not hasattr(data, "_db_for_partition"):
            data[key] = value
            return
        data._db_for_partition(partition).put(key, value)
        data._key_index[key] = partition

    def persisted(self, topic: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """Record the changelog ``offsets`` the broker acknowledged (those of ``topic``;
        others are ignored) as held by the local store, for the next start to skip."""
        data = self._table.data
        if not hasattr(data, "_db_for_partition"):
            return  # the memory store keeps nothing across starts
        for (name, partition), offset in offsets.items():
            if name == topic:
                data.set_persisted_offset(TP(name, partition), offset)


def committed_offsets(consumer: Any, partitions: Iterable[TP]) -> dict[TP, int | None]:
    """The offset faust last committed (or found committed) for each partition."""
    known: Mapping[TP, int | None] = consumer._committed_offset
    return {tp: known.get(tp) for tp in partitions}
