"""faust's Kafka consumer with one fix: changelog records it fetches and then drops are
fetched again.

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
them to their committed offsets) and to ``continuity`` (holes the agent reads back).

And one delay taken out of a worker's start: faust's table manager sleeps a second before
it registers the tables' changelog channels, for tables declared after the app starts;
ours are declared before, and that second is a fifth of a restarted worker's allowance
(docs/adr/0004-static-membership.md).

Checked against faust-streaming 0.15.3 (``Consumer._wait_next_records``,
``getmany``'s ``flow_active`` test, ``AIOKafkaConsumerThread._seek_wait``,
``TableManager.on_start``) and aiokafka 0.14, the pinned versions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer
from faust.tables import TableManager
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

log = logging.getLogger("stream_agents")


def rewind_targets(dropped: Mapping[TP, int], positions: Mapping[TP, int]) -> dict[TP, int]:
    """Where to seek each partition whose records from ``dropped[tp]`` on were dropped,
    given its position now: back to the first dropped offset, unless the position is
    already there or before it (a seek since the fetch, which stands)."""
    return {tp: first for tp, first in dropped.items() if tp in positions and positions[tp] > first}


class RewindingConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; changelog records it drops are fetched again."""

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
        """In the consumer's thread, where the recovery seeks too: reading the positions
        and seeking cannot interleave with one of its seeks."""
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
    """faust's table manager without the second it waits at start."""

    async def on_start(self) -> None:
        # faust 0.15.3's on_start is ``await self.sleep(1.0)`` and then these two.
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class App(faust.App):
    """A faust app whose consumer is ``RewindingConsumer`` (brokers: ``kafka://``) and
    whose table manager is ``PromptTableManager``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("TableManager", PromptTableManager)
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return RewindingTransport(self.conf.broker_consumer, self)
