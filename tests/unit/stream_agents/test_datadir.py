"""Each worker's own data dir: claimed by identity, or the first free slot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stream_agents.datadir import CLUSTER_FILE, DataDirInUse, bind_to_cluster, claim


def test_workers_without_an_identity_take_the_first_free_slot_and_find_it_again(
    tmp_path: Path,
) -> None:
    first, second = claim(tmp_path, None), claim(tmp_path, None)
    assert (first.path.name, second.path.name) == ("worker-0", "worker-1")
    first.release()
    again = claim(tmp_path, None)
    assert again.path == tmp_path / "worker-0"
    assert again.path.is_dir()
    for held in (second, again):
        held.release()


def test_an_instance_id_owns_its_folder_and_a_second_holder_is_refused(tmp_path: Path) -> None:
    held = claim(tmp_path, "agent-3")
    assert held.path == tmp_path / "agent-3"
    with pytest.raises(DataDirInUse, match="agent-3"):
        claim(tmp_path, "agent-3")
    held.release()
    again = claim(tmp_path, "agent-3")
    assert again.path == tmp_path / "agent-3"
    again.release()


def test_a_claim_dies_with_its_process(tmp_path: Path) -> None:
    # Another process holds worker-0 while it runs; killed, its slot is free again.
    code = (
        "import sys, time; from pathlib import Path; from stream_agents.datadir import claim;"
        f"c = claim(Path({str(tmp_path)!r}), None); print(c.path.name, flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "worker-0"
    beside = claim(tmp_path, None)
    assert beside.path.name == "worker-1"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    after = claim(tmp_path, None)
    assert after.path.name == "worker-0"
    for held in (beside, after):
        held.release()


def store_in(folder: Path) -> Path:
    """A table store's files, as faust lays them out under a worker's folder."""
    tables = folder / "sentinel-agents-data" / "v1" / "tables" / "account-features-0.db"
    tables.mkdir(parents=True)
    (tables / "000012.sst").write_bytes(b"rocksdb")
    return tables


def test_a_store_names_the_cluster_it_was_built_from_and_is_kept_there(tmp_path: Path) -> None:
    tables = store_in(tmp_path)
    assert bind_to_cluster(tmp_path, "cluster-a") is False  # no name yet: taken as this one's
    assert (tmp_path / CLUSTER_FILE).read_text() == "cluster-a\n"
    assert bind_to_cluster(tmp_path, "cluster-a") is False  # a restart: the store stays warm
    assert (tables / "000012.sst").read_bytes() == b"rocksdb"


def test_a_store_of_another_cluster_is_deleted_and_the_folder_names_this_one(
    tmp_path: Path,
) -> None:
    # A purged and re-created stack, or a worker moved to another cluster.
    tables = store_in(tmp_path)
    bind_to_cluster(tmp_path, "cluster-a")
    assert bind_to_cluster(tmp_path, "cluster-b") is True
    assert not tables.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [CLUSTER_FILE]
    assert (tmp_path / CLUSTER_FILE).read_text() == "cluster-b\n"
