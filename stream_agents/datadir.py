"""Each worker's own folder under ``SENTINEL_AGENTS_DATA_DIR``, claimed for its lifetime.

rocksdb locks its files, so two workers must never open the same table store. A worker with
a static identity (``SENTINEL_AGENTS_INSTANCE_ID``) owns ``<data dir>/<instance id>``, the
same at every restart (its files are warm when it comes back); a second process with the
same identity is refused. A worker without one takes the first ``worker-N`` no running
worker holds, so several started from one checkout each get their own, and one restarted
finds its old folder again. The claim is an exclusive ``flock`` on ``<name>.lock``: the
kernel releases it when the process exits, ``kill -9`` included.

A folder's table store is a copy of one Kafka cluster's changelog, so it names that cluster
(``cluster-id``, written at a worker's first start there; ``bind_to_cluster``). Started
against another cluster (a purged and re-created local stack, a worker moved to a new or
restored cluster under the same topic names), the worker empties its folder and restores
from that cluster's changelog. Kept, the store would either stop faust at start (a
``ConsistencyError`` when its offsets lie past the new changelog's end) or, worse, mix the
old cluster's account states into the new one's without a word.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger("stream_agents")
CLUSTER_FILE = "cluster-id"


class DataDirInUse(RuntimeError):
    """Another running worker holds this instance id's folder."""


class ClaimedDir:
    """A worker's folder, held until ``release`` (or the process's end)."""

    def __init__(self, path: Path, lock: IO[str]) -> None:
        self.path = path
        self._lock = lock

    def release(self) -> None:
        self._lock.close()  # closing the descriptor drops the flock


def claim(base: Path, instance_id: str | None) -> ClaimedDir:
    """The folder this worker may use, claimed for as long as it runs."""
    base.mkdir(parents=True, exist_ok=True)
    for name in _candidates(instance_id):
        lock = (base / f"{name}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            if instance_id is not None:
                raise DataDirInUse(
                    f"{base / name} is in use by another worker with instance id {instance_id!r}"
                ) from None
            continue
        path = base / name
        path.mkdir(exist_ok=True)
        return ClaimedDir(path, lock)
    raise AssertionError("unreachable: the candidates never end")  # pragma: no cover


def _candidates(instance_id: str | None) -> Iterator[str]:
    if instance_id is not None:
        yield instance_id
        return
    yield from (f"worker-{n}" for n in itertools.count())


def bind_to_cluster(path: Path, cluster_id: str) -> bool:
    """Make ``path``'s table store the one of ``cluster_id``: a store another cluster's
    changelog made is deleted (True), so the worker restores from this cluster's. A folder
    that names no cluster (new, or written before stores named theirs) is taken as this
    cluster's."""
    marker = path / CLUSTER_FILE
    known = marker.read_text().strip() if marker.exists() else None
    if known == cluster_id:
        return False
    discarded = known is not None
    if discarded:
        log.warning(
            "%s holds a table store of Kafka cluster %s; this is cluster %s: deleted, "
            "restoring from this cluster's changelog",
            path,
            known,
            cluster_id,
        )
        for entry in path.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    marker.write_text(cluster_id + "\n")
    return discarded
