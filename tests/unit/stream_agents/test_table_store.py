"""The feature table's store addressed by partition, on faust's real memory and rocksdb
stores (files in a temporary folder; no broker: the app is never started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP

from stream_agents.faust_edge import PartitionedStore


def table(store: str, datadir: Path) -> Any:
    app = faust.App("table-store-test", store=store, datadir=str(datadir), broker="kafka://x:1")
    return app.Table("features", partitions=4, key_type=bytes, value_type=bytes, default=None)


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_a_value_put_in_a_partition_is_read_back_with_or_without_the_partition(
    store: str, tmp_path: Path
) -> None:
    features = PartitionedStore(table(store, tmp_path))
    features.put(2, b"acct-1", b"state-1")
    features.put(3, b"acct-2", b"state-2")
    features.put(2, b"acct-1", b"state-1b")

    assert features.get(b"acct-1", 2) == b"state-1b"
    assert features.get(b"acct-1") == b"state-1b"
    assert features.get(b"acct-2") == b"state-2"
    assert features.get(b"acct-3") is None


def test_rocksdb_keeps_each_value_in_its_own_partition_database(tmp_path: Path) -> None:
    faust_table = table("rocksdb://", tmp_path)
    features = PartitionedStore(faust_table)
    features.put(1, b"acct-1", b"state")

    assert features.get(b"acct-1", 0) is None
    # Found again once faust's key -> partition index has forgotten it.
    faust_table.data._key_index.clear()
    assert features.get(b"acct-1") == b"state"
    assert faust_table.data.partition_path(1).is_dir()


def test_faust_alone_cannot_write_rocksdb_outside_an_event(tmp_path: Path) -> None:
    """Why ``PartitionedStore`` exists: faust's rocksdb store takes the partition from the
    current event, which a ``take_events`` batch body does not have."""
    with pytest.raises(AssertionError):
        table("rocksdb://", tmp_path).data[b"acct-1"] = b"state"


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_acknowledged_changelog_offsets_are_recorded_where_a_restart_looks_for_them(
    store: str, tmp_path: Path
) -> None:
    faust_table = table(store, tmp_path)
    features = PartitionedStore(faust_table)
    features.put(1, b"acct-1", b"state")
    features.persisted("features-changelog", {("features-changelog", 1): 7, ("decisions", 1): 9})

    recorded = faust_table.data.persisted_offset(TP("features-changelog", 1))
    # memory rebuilds everything at each start; rocksdb replays the changelog past 7.
    assert recorded == (7 if store == "rocksdb://" else None)
