"""The feature table's local store, read and written by source partition, whichever store.

The agent works on whole micro-batches, so it reads and writes the table's store directly
(and publishes the changelog records itself, with librdkafka) rather than through faust's
per-event ``table[key]`` API. That is all the memory store needs: one dict for every
partition, rebuilt from the whole changelog at every start.

faust's rocksdb store (``rocksdb://``, the ``rocksdict`` package) keeps one database per
partition and picks it from faust's *current event*, which is unset in the body of a
``take_events`` batch: its ``Store._set`` then fails an assertion (the agent crashed on its
first write before this module), and its reads would search every database. So with
rocksdb a value is written to the database of the partition whose changelog receives it,
and read from it. A restart reads only the changelog past the offset persisted in each
database: faust records it when *its* producer acknowledges a changelog record, which the
agent's records never pass through, so ``persisted`` records it once the agent's own
publish is acknowledged (every value of the batch is in the database by then). This
reaches into faust's rocksdb ``Store`` (``_db_for_partition``, ``_dbs``, ``_key_index``,
``set_persisted_offset``): checked against faust-streaming 0.15.3, the pinned version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.types import TP


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
