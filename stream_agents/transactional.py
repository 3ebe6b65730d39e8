"""Exactly-once output: a micro-batch's records produced inside faust's Kafka transactions.

Used when ``SENTINEL_AGENTS_PROCESSING_GUARANTEE=exactly_once``. faust then keeps one
transactional producer per assigned source partition (transactional id
``{app id}-{topic group}-{partition}``) and, on each commit, commits that producer's
transaction together with the partition's consumed offsets; consumers reading with
``isolation.level=read_committed`` see a batch's output only once, after that commit.

Three gaps in faust-streaming 0.15 this module closes (each found by reading its code):

- faust's own send path, ``TransactionManager.send`` (what ``topic.send()`` uses), picks the
  transaction from the DESTINATION topic: ``assignor.group_for_topic(topic)``, a KeyError for
  every topic the worker does not consume (decisions, webhooks, dead-letter), and the
  destination partition's number, whose producer exists only if the worker happens to own
  the source partition of that number (webhooks: 6 partitions, dead-letter: 3). So each
  record goes out through faust's producer with the transactional id of the SOURCE
  partition it answers. The changelog has the source's partitioning, so ``topic.send()``
  finds the right transaction for it.
- ``Table.send_changelog`` goes through faust's producer buffer, which an exactly-once
  commit does not flush; the changelog is sent directly here and awaited with the batch.
- faust's commit timer runs beside the agent: a commit between a batch's first send and its
  acks would commit part of the batch's output with the previous offsets, and a crash then
  would repeat that output. A lock makes a batch (sends, acks) and a commit exclusive.

And one the agent's own repairs need: faust commits a partition's transaction only when
the partition's offset moves. Records read back from a hole at a partition's end (faust
committed past them) move nothing, so ``commit`` commits their transactions explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import faust
from aiokafka.structs import TopicPartition

from decision_core.records import Outgoing


class TransactionalOutput:
    """Publishes a batch's records and changelog writes in the source partitions' transactions."""

    def __init__(
        self, app: faust.App, table: Any, topics: Mapping[str, str], source_topic: str
    ) -> None:
        self.app = app
        self.table = table
        self.topics = dict(topics)  # role -> topic name
        self.source_topic = source_topic
        self._lock = asyncio.Lock()
        self._installed = False
        self._commit: Callable[[], Awaitable[Any]] | None = None

    def install(self) -> None:
        """Make faust's commits wait for a batch in flight (once its consumer exists)."""
        if self._installed:
            return
        consumer: Any = self.app.consumer
        commit = consumer.commit
        lock = self._lock

        async def commit_between_batches(*args: Any, **kwargs: Any) -> bool:
            async with lock:
                return bool(await commit(*args, **kwargs))

        # The instance attribute shadows the method for faust's commit timer, rebalances
        # and shutdown alike: offsets are chosen only when no batch is half sent.
        consumer.commit = commit_between_batches
        self._commit = commit
        self._installed = True

    async def publish(
        self,
        records: Sequence[Outgoing],
        changelog: Iterable[tuple[int, bytes, bytes]],
        events: Sequence[Any],
        stream: Any,
        acknowledge_more: Callable[[], None] = lambda: None,
    ) -> None:
        """Send ``records`` and the ``changelog`` writes (partition, key, value), wait until
        the broker holds them (uncommitted), then ack ``events`` and call
        ``acknowledge_more``; all without a commit."""
        async with self._lock:
            await self.send(records, changelog)
            for event in events:
                await stream.ack(event)
            acknowledge_more()

    @contextlib.asynccontextmanager
    async def settled(self) -> AsyncIterator[None]:
        """Holds off faust's commits, after committing every offset acked so far: inside,
        the group's committed offsets are current and stay so (``send``, ``commit``)."""
        if self._commit is None:
            raise RuntimeError("install() first")
        async with self._lock:
            await self._commit()
            yield

    async def send(
        self, records: Sequence[Outgoing], changelog: Iterable[tuple[int, bytes, bytes]]
    ) -> None:
        """Send in the source partitions' transactions and wait for the broker (lock held)."""
        table_topic = self.table.changelog_topic
        groups = self.app.assignor.group_for_topic
        if groups(table_topic.get_topic_name()) != groups(self.source_topic):
            # topic.send() would then pick another transaction than the batch's records.
            raise RuntimeError("the changelog is not in the source topic's partition group")
        pending = [
            await table_topic.send(
                key=key,
                value=value,
                partition=partition,
                key_serializer="raw",
                value_serializer="raw",
            )
            for partition, key, value in changelog
        ]
        pending.extend([await self._send(out) for out in records])
        await asyncio.gather(*pending)

    async def commit(self, offsets: Mapping[int, int]) -> None:
        """Commit the source partitions' transactions with these offsets (inside
        ``settled``): for output that no newly acked offset would ever commit."""
        if offsets:
            # aiokafka's own type: its send_offsets_to_transaction refuses faust's TP.
            tps = {TopicPartition(self.source_topic, p): o for p, o in offsets.items()}
            await self.app.consumer.transactions.commit(tps, start_new_transaction=True)

    async def _send(self, out: Outgoing) -> Any:
        if out.source_partition is None:
            raise ValueError(f"{out.role} record without its source partition")
        group = self.app.assignor.group_for_topic(self.source_topic)
        transactional_id = f"{self.app.conf.id}-{group}-{out.source_partition}"
        return await self.app.producer.send(
            self.topics[out.role],
            out.key,
            out.value,
            None,  # the destination partition: the producer's murmur2 of the key
            None,
            list(out.headers),
            transactional_id=transactional_id,
        )
