"""The partitioning contract's hash: the partition a transaction's key belongs on.

A transaction is keyed by its account id (UTF-8) and belongs on partition
``toPositive(murmur2(key)) % partitions`` of the transactions topic: Java's client's
default partitioner, librdkafka's ``murmur2_random`` (docs/partitioning.md). The agents
check every record against it and so does replay (``decision_core.placement`` applies the
rule; it takes this hash as a function because the decision code loads no Kafka client).

The hash is aiokafka's ``murmur2`` (a port of Java's ``Utils.murmur2``, the client faust
runs on), cached per key and partition count: the hot path pays a dict look-up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from aiokafka.partitioner import murmur2

# Distinct (key, partition count) pairs remembered, least recently used out: ~200 bytes
# each with its key (measured), so ~13 MB; a miss costs the hash, ~2.3 µs.
CACHED_KEYS: Final = 1 << 16


@lru_cache(maxsize=CACHED_KEYS)
def home_partition(key: bytes, partitions: int) -> int:
    """The partition Java's default partitioner gives ``key`` among ``partitions``."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    # Java's Utils.toPositive(murmur2(key)) % n; aiokafka's murmur2 is unsigned 32-bit.
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions
