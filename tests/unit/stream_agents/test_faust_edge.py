"""Where the consumer seeks a changelog partition whose fetched records it dropped; the
faust internals ``stream_agents.faust_edge`` was written against."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import defaultdict
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust import Stream
from faust import streams as faust_streams
from faust.tables import TableManager
from faust.tables import recovery as faust_recovery
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode import Service
from mode.threads import QueueServiceThread, ServiceThread

from stream_agents.faust_edge import (
    EAGER_RUN,
    App,
    BatchingStream,
    CoalescingConsumerThread,
    EagerAsyncio,
    EagerRecovery,
    EagerWaitFirst,
    LoopTask,
    PromptTableManager,
    RewindingConsumer,
    ServedOnTheLoop,
    committed_offsets,
    rewind_targets,
)

A = TP("app-table-changelog", 0)
B = TP("app-table-changelog", 1)


def test_a_dropped_batch_is_fetched_again_from_its_first_offset() -> None:
    # The recovery sought A to 0; the batch 0..58 came back while the flow was stopped
    # and dropped: aiokafka's position is 59, nothing would read 0..58 again.
    assert rewind_targets({A: 0}, {A: 59}) == {A: 0}


def test_a_seek_since_the_fetch_stands() -> None:
    # The batch 53..58 was fetched before the recovery sought back to 0: the seek's
    # position is where reading must start, not the dropped batch's first offset.
    assert rewind_targets({A: 53}, {A: 0}) == {}
    assert rewind_targets({A: 53}, {A: 53}) == {}


def test_a_seek_to_the_middle_of_the_batch_rereads_rather_than_skips() -> None:
    # Reading a changelog record twice is harmless, skipping one is not.
    assert rewind_targets({A: 10}, {A: 30}) == {A: 10}


def test_partitions_no_longer_assigned_are_left_alone() -> None:
    assert rewind_targets({A: 0, B: 5}, {B: 20}) == {B: 5}


def test_written_for_the_pinned_faust_and_aiokafka() -> None:
    # stream_agents.faust_edge reaches into both (ADR 0001, ADR 0004): re-check it, and the
    # table manager's start below, on an upgrade.
    assert version("faust-streaming") == "0.15.3"
    assert version("aiokafka") == "0.14.0"


def test_the_table_manager_starts_as_fausts_does_less_its_second_of_sleep() -> None:
    source = inspect.getsource(TableManager.on_start)
    assert "await self.sleep(1.0)" in source
    assert "await self._update_channels()" in source
    assert "await self.recovery.start()" in source
    app = App("unit-consumer", broker="kafka://127.0.0.1:9092")
    assert app.conf.TableManager is PromptTableManager


def test_what_faust_committed_is_read_from_its_consumers_bookkeeping() -> None:
    # faust sets it at each seek to the committed offsets and at each commit; no accessor.
    assert "self._committed_offset.update(committed_offsets)" in inspect.getsource(
        faust_consumer.Consumer.perform_seek
    )
    consumer = SimpleNamespace(_committed_offset=defaultdict(lambda: None, {A: 41}))
    assert committed_offsets(consumer, [A, B]) == {A: 41, B: None}


async def test_the_worker_consumer_is_built_with_the_fetch_settings_of_the_app() -> None:
    # Async: aiokafka builds a consumer only inside a running loop.
    # faust writes fetch_max_wait_ms into the call and leaves fetch_min_bytes at aiokafka's
    # 1; aiokafka's fetcher is built at start from the two attributes set here.
    assert "fetch_max_wait_ms=1500," in inspect.getsource(
        faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
    )
    start = inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_min_bytes=self._fetch_min_bytes" in start
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start
    app = App("unit-fetch", broker="kafka://127.0.0.1:9092", fetch_wait_ms=7, fetch_min_bytes=4096)
    thread = app.consumer._thread
    assert isinstance(thread, CoalescingConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert (consumer._fetch_max_wait_ms, consumer._fetch_min_bytes) == (7, 4096)
    finally:
        await consumer.stop()  # never started: closes its client


def test_the_consumer_thread_is_built_to_be_served_on_the_apps_loop() -> None:
    app = App("unit-loop", broker="kafka://127.0.0.1:9092")
    thread = app.consumer._thread
    assert thread.thread_loop is thread.parent_loop is app.consumer.loop
    assert thread.Worker is LoopTask
    assert not thread._close_thread_loop_on_stop  # mode never closes the app's loop


def test_mode_serves_a_thread_as_this_module_expects() -> None:
    # ServedOnTheLoop and LoopTask lean on mode's ServiceThread: its constructor's loop and
    # worker class, the coroutine a worker thread runs, and the two mechanics turned off.
    assert version("mode-streaming") == "0.7.1"
    params = inspect.signature(ServiceThread.__init__).parameters
    assert {"thread_loop", "Worker"} <= params.keys()
    assert "self._thread = self.Worker(self)" in inspect.getsource(ServiceThread.start)
    assert "self.thread_loop.run_until_complete(self._serve())" in inspect.getsource(
        ServiceThread._start_thread
    )
    assert "all_tasks(loop=self.thread_loop)" in inspect.getsource(
        ServiceThread._gather_remaining_tasks
    )
    assert "self.method_queue.call(" in inspect.getsource(QueueServiceThread.call_thread)


class _Probe(ServedOnTheLoop, QueueServiceThread):
    """A service thread of mode's, served as this module serves faust's consumer."""

    started_on: int | None = None

    async def on_start(self) -> None:
        self.started_on = threading.get_ident()

    async def double(self, value: int) -> tuple[int, int]:
        return value * 2, threading.get_ident()


async def test_a_service_thread_served_on_the_loop_starts_no_thread_and_stops_cleanly() -> None:
    loop = asyncio.get_running_loop()
    bystander = asyncio.ensure_future(asyncio.sleep(60))  # another task of the app's loop
    threads = threading.active_count()
    probe = _Probe(loop=loop, thread_loop=loop, Worker=LoopTask)
    await probe.start()
    try:
        assert probe.started_on == threading.get_ident()
        assert threading.active_count() == threads
        assert probe._thread is not None and probe._thread.is_alive()
        # call_thread: the method run right here, not through a queue to another loop.
        assert await probe.call_thread(probe.double, 21) == (42, threading.get_ident())
    finally:
        await probe.stop()
    await asyncio.sleep(0)
    assert not probe._thread.is_alive()
    assert not bystander.done()  # mode's stop left the loop's other tasks alone
    bystander.cancel()


def test_take_ready_is_faust_take_events_as_this_module_copies_it() -> None:
    # BatchingStream.take_ready copies take_events' mechanics: recheck them on an upgrade.
    source = inspect.getsource(Stream.take_events)
    for line in (
        "self.enable_acks = False",
        "self.add_processor(add_to_buffer)",
        "self._enable_passive(cast(ChannelT, channel_it))",
        "event = self.current_event",
        "await self.ack(event)",
        "notify(buffer_consuming)",
        "self._processors.remove(add_to_buffer)",
        # the timing take_ready keeps: the wait starts when the last batch was consumed
        "buffer_full, timeout=timeout",
    ):
        assert line in source, line
    assert "._active_agens.add(agen)" in inspect.getsource(faust_streams._tracks_buffer_agen)
    app = App("unit-stream", broker="kafka://127.0.0.1:9092")
    assert app.conf.Stream is BatchingStream


async def _batches(within: float, puts: list[list[int]], urgent: Any = None) -> list[list[int]]:
    """What an agent on ``take_ready(5, within, urgent)`` is given; ``puts``: the values
    put before the first batch and then while each batch is handled."""
    app = App("unit-take-ready", broker="kafka://127.0.0.1:9092", store="memory://")
    channel = app.channel()
    taken: list[list[int]] = []
    finished = asyncio.Event()
    expected = sum(map(len, puts))

    @app.agent(channel)
    async def agent(stream: BatchingStream) -> Any:
        assert isinstance(stream, BatchingStream)
        async for events in stream.take_ready(5, within=within, urgent=urgent):
            taken.append([event.value for event in events])
            if len(taken) < len(puts):
                for value in puts[len(taken)]:
                    await context.put(value, wait=False)
            if sum(map(len, taken)) == expected:
                finished.set()
            yield None

    async with agent.test_context() as context:
        for value in puts[0]:
            await context.put(value, wait=False)
        await asyncio.wait_for(finished.wait(), 10)
    return taken


async def test_a_batch_takes_what_came_within_its_wait_and_holds_at_most_max() -> None:
    assert await _batches(within=0.2, puts=[[1, 2, 3]]) == [[1, 2, 3]]
    assert await _batches(within=0.05, puts=[list(range(12))]) == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
        [10, 11],
    ]


async def test_with_no_wait_a_batch_is_what_waited_when_it_closed() -> None:
    # Never a wait for max_ (take_events' reading of 0), never a spin while idle.
    taken = await _batches(within=0, puts=[[1], [2, 3, 4, 5, 6, 7]])
    assert taken[0] == [1] and sorted(sum(taken, [])) == list(range(1, 8))
    assert all(len(values) <= 5 for values in taken)


async def test_an_event_whose_producer_waits_closes_its_batch_at_once() -> None:
    # A 60 s wait: only the urgent events can close these batches within the test's 10 s.
    taken = await _batches(within=60, puts=[[1, 2, -3], [4, -5]], urgent=lambda e: e.value < 0)
    assert taken == [[1, 2, -3], [4, -5]]


def test_the_consumer_hands_each_record_on_through_wait_first_as_this_module_expects() -> None:
    # EagerWaitFirst (8.) skips mode's tasks for the drain loop's hand-off; the loop reads
    # nothing of the result, and its first awaitable is the conductor's coroutine.
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert "await self.wait_first(\n" in source
    assert "callback(message), self.suspend_flow.wait()" in source
    assert inspect.getsource(faust_consumer).count("wait_first(") == 1
    services = inspect.getsource(Service.wait_first)
    assert "asyncio.ensure_future(stopped.wait()" in services
    assert "return WaitResults(winners, results, False)" in services
    assert RewindingConsumer.wait_first is EagerWaitFirst.wait_first


class _Eager(EagerWaitFirst):
    """A mode service with this module's ``wait_first``."""


async def _value(value: int) -> int:
    return value


async def test_a_coroutine_that_finishes_at_once_is_the_answer_with_no_task() -> None:
    service, event = _Eager(), asyncio.Event()
    tasks = len(asyncio.all_tasks())
    waiting = event.wait()
    result = await service.wait_first(_value(7), waiting)
    assert result.results == [7] and not result.stopped
    assert len(asyncio.all_tasks()) == tasks
    assert waiting.cr_frame is None  # closed, not left unawaited
    assert not event._waiters


async def test_a_coroutine_that_suspends_is_continued_where_it_stopped() -> None:
    service, event, later = _Eager(), asyncio.Event(), asyncio.Event()
    steps: list[str] = []

    async def hand_off() -> str:
        steps.append("before")
        await later.wait()
        steps.append("after")
        return "done"

    asyncio.get_running_loop().call_later(0.01, later.set)
    result = await service.wait_first(hand_off(), event.wait())
    assert result.results == ["done"] and not result.stopped
    assert steps == ["before", "after"]  # the first step ran once, not again
    await asyncio.sleep(0)
    assert not event._waiters  # the loser was cancelled


async def test_a_suspended_coroutine_loses_to_an_event_and_is_cancelled_where_it_waits() -> None:
    service, suspend, never = _Eager(), asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def blocked() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    asyncio.get_running_loop().call_later(0.01, suspend.set)
    result = await service.wait_first(blocked(), suspend.wait())
    assert result.results == [True] and not result.stopped
    await asyncio.sleep(0)
    assert seen == ["cancelled"]
    assert not never._waiters


async def test_an_error_reaches_the_caller_whether_or_not_the_coroutine_suspended() -> None:
    service, event = _Eager(), asyncio.Event()

    async def fails(suspend: bool) -> None:
        if suspend:
            await asyncio.sleep(0.001)
        raise LookupError("no callback for this partition")

    for suspend in (False, True):
        waiting = event.wait()
        try:
            await service.wait_first(fails(suspend), waiting)
        except LookupError:
            pass
        else:
            raise AssertionError("the error was swallowed")
    await asyncio.sleep(0)
    assert not event._waiters


async def test_a_stopped_service_answers_as_modes_does() -> None:
    service = _Eager()
    service._stopped.set()
    result = await service.wait_first(_value(1))
    assert result.stopped and result.results == []


def test_the_recovery_takes_changelog_records_through_asyncio_as_this_module_expects() -> None:
    # EagerRecovery (9.) runs faust's own loop with another ``asyncio``: the loop uses it
    # for one wait_for of the queue's get and its TimeoutError, nothing else.
    source = inspect.getsource(faust_recovery.Recovery._slurp_changelogs.fun)
    take = "await asyncio.wait_for(\n                        changelog_queue.get(), timeout=5.0"
    assert source.count("asyncio.") == 2
    assert take in source
    assert "except asyncio.TimeoutError:" in source
    assert "self._recovery = Recovery(\n" in inspect.getsource(TableManager.recovery.fget)
    fun = EagerRecovery._slurp_changelogs.fun
    assert fun.__code__ is faust_recovery.Recovery._slurp_changelogs.fun.__code__
    assert isinstance(fun.__globals__["asyncio"], EagerAsyncio)
    assert faust_recovery.asyncio is asyncio  # faust's module left as it was
    app = App("unit-recovery", broker="kafka://127.0.0.1:9092")
    assert type(app.tables.recovery) is EagerRecovery


async def test_a_record_already_queued_is_taken_with_no_task_or_timer() -> None:
    eager, queue = EagerAsyncio(), asyncio.Queue[int]()
    queue.put_nowait(5)
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "loop")
    tasks = len(asyncio.all_tasks())
    assert await eager.wait_for(queue.get(), timeout=5.0) == 5
    assert len(asyncio.all_tasks()) == tasks
    assert ran == []  # the loop did not run in between


async def test_an_empty_queue_is_waited_on_under_the_timeout_as_asyncio_does() -> None:
    eager, queue = EagerAsyncio(), asyncio.Queue[int]()
    asyncio.get_running_loop().call_later(0.01, queue.put_nowait, 8)
    assert await eager.wait_for(queue.get(), timeout=5.0) == 8
    try:
        await eager.wait_for(queue.get(), timeout=0.01)
    except TimeoutError:
        pass
    else:
        raise AssertionError("no timeout")
    await asyncio.sleep(0)
    assert not queue._getters  # the get that timed out is cancelled where it waited
    queue.put_nowait(9)
    assert queue.get_nowait() == 9  # and took nothing


async def test_an_error_of_the_queue_reaches_the_caller() -> None:
    eager = EagerAsyncio()

    async def fails(suspend: bool) -> None:
        if suspend:
            await asyncio.sleep(0.001)
        raise LookupError("thrown into the changelog queue")

    for suspend in (False, True):
        try:
            await eager.wait_for(fails(suspend), timeout=5.0)
        except LookupError:
            pass
        else:
            raise AssertionError("the error was swallowed")


async def test_the_loop_runs_once_after_a_run_of_records_taken_at_once() -> None:
    eager, queue = EagerAsyncio(run=3), asyncio.Queue[int]()
    for i in range(7):
        queue.put_nowait(i)
    turns = 0

    def turn() -> None:
        nonlocal turns
        turns += 1
        loop.call_soon(turn)

    loop = asyncio.get_running_loop()
    loop.call_soon(turn)
    seen = [(await eager.wait_for(queue.get(), timeout=5.0), turns) for _ in range(7)]
    # Three taken at once, then one through asyncio.wait_for (the loop turns), then three
    # at once again.
    assert [value for value, _turns in seen] == list(range(7))
    turned = seen[3][1]
    assert turned > 0
    assert [t for _value, t in seen] == [0, 0, 0, turned, turned, turned, turned]
    assert EagerAsyncio().run == EAGER_RUN
