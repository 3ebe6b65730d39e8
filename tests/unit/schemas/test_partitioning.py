"""The partitioning contract's hash: Java's murmur2, and its home partition."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2

from schemas.partitioning import home_partition

# org.apache.kafka.common.utils.UtilsTest.testMurmur2: Java's signed 32-bit results.
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
PARTITIONS = 12


def signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS.items())
def test_murmur2_is_javas(key: bytes, expected: int) -> None:
    assert signed(murmur2(key)) == expected


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS.items())
def test_the_home_partition_is_javas_to_positive_modulo(key: bytes, expected: int) -> None:
    # Utils.toPositive(murmur2(key)) % numPartitions, as the Java client's partitioner.
    assert home_partition(key, PARTITIONS) == (expected & 0x7FFFFFFF) % PARTITIONS
    assert home_partition(key, 1) == 0


def test_a_partition_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        home_partition(b"acct-1", 0)
